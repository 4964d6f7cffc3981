// docs/deploying-behind-nginx.md, run as written: its nginx block (TLS with a throw-away
// certificate, the :80 redirect, keep-alive upstream, /app/ mount) in front of tray started with
// the systemd unit's ExecStart arguments, and tray started with the Dockerfile's CMD. Only the
// listen ports, certificate paths and tray's port are replaced; a replacement that finds nothing
// fails the test, so the doc and this file cannot drift apart.
// Skips, saying why, only when nginx or openssl is not installed (.ci/run installs nginx).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { ROOT, freePort, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { CLIENT_ADDRESS, PROXY_FIXTURES, ask, findNginx, headerOf, startNginx } from "./proxy-helpers.ts";
import type { Nginx, Seen, Target } from "./proxy-helpers.ts";

const DOC = readFileSync(join(ROOT, "docs", "deploying-behind-nginx.md"), "utf8");
const NGINX = findNginx();
const OPENSSL = spawnSync("openssl", ["version"]).status === 0;
if (NGINX === null) console.warn("nginx-docs.test.ts: SKIPPED - nginx is not installed (apt-get install -y nginx; .ci/run installs it)");
else if (!OPENSSL) console.warn("nginx-docs.test.ts: SKIPPED - openssl is not installed (needed for a throw-away certificate)");

function block(lang: string): string {
  const m = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(DOC);
  if (m === null) throw new Error(`docs/deploying-behind-nginx.md has no \`\`\`${lang} block`);
  return m[1];
}

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the doc's config no longer contains ${JSON.stringify(from)}: update nginx-docs.test.ts with it`);
  return text.split(from).join(to);
}

/** The ExecStart arguments of the doc's systemd unit, without the binary. */
function execStartArgs(): string[] {
  const line = block("ini").split("\n").find((l) => l.startsWith("ExecStart="));
  if (line === undefined) throw new Error("the doc's unit has no ExecStart= line");
  return line.slice("ExecStart=".length).trim().split(/\s+/).slice(1);
}

/** The Dockerfile's CMD, as a JSON array. */
function dockerCmd(): string[] {
  const line = block("dockerfile").split("\n").find((l) => l.startsWith("CMD "));
  if (line === undefined) throw new Error("the doc's Dockerfile has no CMD line");
  return JSON.parse(line.slice(4)) as string[];
}

describe.skipIf(NGINX === null || !OPENSSL)("docs/deploying-behind-nginx.md, as written", () => {
  let dir: string;
  let tray: Tray;
  let nginx: Nginx;
  let httpPort: number;
  let https: Target;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tray-nginx-docs-"));
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=shop.example"], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);

    const args = execStartArgs().map((a) => (a === "--port=8080" ? "--port=0" : a));
    expect(args).toContain("--port=0");
    tray = await startTray(args, { cwd: PROXY_FIXTURES, autoPort: false });

    httpPort = await freePort();
    let site = block("nginx");
    site = replaceOnce(site, "listen 80;", `listen 127.0.0.1:${httpPort};`);
    site = replaceOnce(site, "listen 443 ssl;", "listen 127.0.0.1:@PORT@ ssl;");
    site = replaceOnce(site, "/etc/ssl/shop.example/fullchain.pem", cert);
    site = replaceOnce(site, "/etc/ssl/shop.example/privkey.pem", key);
    site = replaceOnce(site, "server 127.0.0.1:8080;", `server 127.0.0.1:${tray.port};`);
    const main = [
      "@USER@",
      "worker_processes 1;",
      "pid @PREFIX@/nginx.pid;",
      "error_log @PREFIX@/error.log info;",
      "events { worker_connections 256; }",
      "http {",
      "    access_log @PREFIX@/access.log;",
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path @PREFIX@/${t};`),
      site,
      "}",
    ].join("\n");
    const template = join(dir, "nginx.conf.template");
    writeFileSync(template, main);
    nginx = await startNginx(NGINX!, dir, template, {});
    https = { port: nginx.port, tls: { servername: "shop.example" } };
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await tray?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const overTls = (path: string, opts: { method?: string; extra?: string; body?: Uint8Array } = {}) =>
    ask(https, `${opts.method ?? "GET"} ${path} HTTP/1.1\r\nHost: shop.example:${nginx.port}\r\n${opts.extra ?? ""}`, { localAddress: CLIENT_ADDRESS, body: opts.body, timeoutMs: 30_000 });

  test("the systemd command line starts tray with no warnings", () => {
    expect(tray.stderr()).toMatch(/Serving on http:\/\/127\.0\.0\.1:\d+/);
    expect(tray.stderr()).not.toMatch(/warn|only X-Forwarded-Proto/i);
  });

  test("over TLS the app sees https, the public host and port, the client's address, and /app stripped", async () => {
    const r = await overTls("/app/info?x=1");
    expect(r.status).toBe(200);
    const seen = r.json<Seen>();
    expect(seen.url).toBe(`https://shop.example:${nginx.port}/info?x=1`);
    expect(seen.scriptName).toBe("/app");
    expect(seen.remoteAddr).toMatchObject({ hostname: CLIENT_ADDRESS, transport: "tcp" });
    expect(seen.requestIP).toMatchObject({ address: CLIENT_ADDRESS, family: "IPv4" });
    expect(headerOf(seen, "host")).toBe(`shop.example:${nginx.port}`);
  });

  test("links the app builds from request.url and info.scriptName lead back through nginx", async () => {
    const links = (await overTls("/app/links")).json<{ item: string }>();
    const item = new URL(links.item);
    expect(item.href).toBe(`https://shop.example:${nginx.port}/app/info?item=42`);
    const seen = (await overTls(`${item.pathname}${item.search}`)).json<Seen>();
    expect(seen.url).toBe(`https://shop.example:${nginx.port}/info?item=42`);
  });

  test("plain http on the :80 server is redirected to https", async () => {
    const r = await ask({ port: httpPort }, "GET /app/info HTTP/1.1\r\nHost: shop.example\r\n", { localAddress: CLIENT_ADDRESS });
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe("https://shop.example/app/info");
  });

  test("the upstream keepalive reuses one connection to tray for consecutive requests", async () => {
    const ports: number[] = [];
    for (let i = 0; i < 5; i++) ports.push((await overTls(`/app/info?n=${i}`)).json<Seen>().remoteAddr.port);
    expect(new Set(ports).size).toBeLessThan(ports.length);
  }, 30_000);

  test("a 20 MiB upload passes client_max_body_size and arrives whole", async () => {
    const body = randomBytes(20 * 1024 * 1024);
    const r = await overTls("/app/upload", { method: "POST", body, extra: `Content-Length: ${body.length}\r\n` });
    expect(r.json()).toEqual({ length: body.length, sha256: createHash("sha256").update(body).digest("hex") });
  }, 60_000);

  test("the Dockerfile's CMD serves, believing the proxy headers of any peer", async () => {
    const cmd = dockerCmd().map((a) => (a === "--port=8080" ? "--port=0" : a));
    expect(cmd).toContain("--port=0");
    const inContainer = await startTray(["--host=127.0.0.1", ...cmd], { cwd: PROXY_FIXTURES, autoPort: false });
    try {
      const seen = (
        await ask({ port: inContainer.port }, "GET /info HTTP/1.1\r\nHost: 10.1.2.3:8080\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n", { localAddress: CLIENT_ADDRESS })
      ).json<Seen>();
      expect(seen.url).toBe("https://shop.example/info");
      expect(seen.remoteAddr.hostname).toBe("192.0.2.1");
    } finally {
      await inContainer.stop();
    }
  });

  test("nginx logged no upstream errors", () => {
    expect(nginx.errorLog()).not.toMatch(/\[(error|crit|alert|emerg)\]/);
  });
});
