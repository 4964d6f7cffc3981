// MODULE[:OBJECT] text -> AppSpec (DESIGN.md §1). The split is on the last ":" that is not a
// Windows drive letter, so `C:\srv\app.ts` is all module and `C:\srv\app.ts:app` names `app`.
// A drive letter is one ASCII letter at the start followed by ":" and a path separator; `a:app`
// stays module "a", object "app".
import { AppLoadError } from "./errors.ts";
import type { AppSpec } from "./types.ts";

const DRIVE_LETTER = /^[A-Za-z]:[\\/]/;

export function parseAppSpec(text: string, cwd: string, call: boolean): AppSpec {
  const colon = text.lastIndexOf(":");
  const isDriveColon = colon === 1 && DRIVE_LETTER.test(text);
  const module = colon === -1 || isDriveColon ? text : text.slice(0, colon);
  const object = colon === -1 || isDriveColon ? "default" : text.slice(colon + 1);
  if (module === "") {
    throw new AppLoadError(`${JSON.stringify(text)} names no module; write MODULE or MODULE:OBJECT (e.g. app.ts:app)`);
  }
  if (object === "" || object.split(".").some((part) => part === "")) {
    throw new AppLoadError(
      `${JSON.stringify(text)} has an empty name in its object path "${object}"; write MODULE:OBJECT with OBJECT like app or app.fetch, or leave out ":" for the default export`,
    );
  }
  return { module, object, call, cwd };
}
