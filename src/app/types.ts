// The app contract of DESIGN.md §1, as types: what a loaded app is called with.

/** Deno's ServeHandlerInfo.remoteAddr, plus the unix transport. */
export interface RemoteAddr {
  hostname: string;
  port: number;
  transport: "tcp" | "unix";
}

/** Bun's Server.requestIP() result. */
export interface RequestIP {
  address: string;
  family: "IPv4" | "IPv6" | "";
  port: number;
}

/** The second argument every handler receives. */
export interface ServeInfo {
  remoteAddr: RemoteAddr;
  requestIP(request: Request): RequestIP | null;
  /** The url_prefix (WSGI's SCRIPT_NAME), "" when none. */
  scriptName: string;
}

export type FetchHandler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

/** MODULE[:OBJECT] and --call, resolved against cwd. */
export interface AppSpec {
  module: string;
  object: string; // dotted path, "default" when absent
  call: boolean;
  cwd: string;
}
