// A library directory that lets the linux-x64-musl release binary run on this Debian machine.
//
// Why it is needed: bun's musl runtime asks for /lib/ld-musl-x86_64.so.1 (Debian's `musl`
// package has it) and for libstdc++.so.6 built against musl (Alpine's libstdc++). Debian has
// no musl-built libstdc++, so we stand in Debian's own libstdc++.so.6 and libgcc_s.so.1, and a
// tiny shim library, compiled here with gcc, for the few glibc-only symbols they reference. The
// shim is also named ld-linux-x86-64.so.2 because libstdc++ lists glibc's loader as NEEDED;
// musl's loader maps libc.so.6 and libm.so.6 onto itself. Everything else (every libc call,
// threads, sockets, the embedded app) is musl and the release binary's own.
//
// This proves the binary is a working musl program with its app embedded; it is not a
// substitute for running it on Alpine. Anything this cannot provide is reported as a reason to
// skip, never as a failure of the binary.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const SHIM_C = `
#include <stddef.h>
struct tm;
typedef void *locale_t;
extern size_t strftime_l(char *, size_t, const char *, const struct tm *, locale_t);
extern int getentropy(void *, size_t);
unsigned int arc4random(void) { unsigned int v = 0; getentropy(&v, sizeof v); return v; }
size_t __strftime_l(char *s, size_t n, const char *f, const struct tm *t, locale_t l) { return strftime_l(s, n, f, t, l); }
/* thread_local destructors of the C++ runtime are not run: harmless for a test process. */
int __cxa_thread_atexit_impl(void (*d)(void *), void *o, void *h) { (void)d; (void)o; (void)h; return 0; }
char __libc_single_threaded = 0;
/* -1 makes libgcc's unwinder fall back to dl_iterate_phdr, which musl has. */
int _dl_find_object(void *pc, void *result) { (void)pc; (void)result; return -1; }
struct { unsigned int vendor, type, subtype, features[1]; } __cpu_model;
int __cpu_indicator_init(void) { return 0; }
`;

const GLIBC_CXX_LIBRARIES = ["libstdc++.so.6", "libgcc_s.so.1"];
const GCC_TIMEOUT_MS = 60_000;

/** The directory to put on LD_LIBRARY_PATH, or a reason it cannot be made here. */
export async function prepareMuslRuntime(dir: string): Promise<{ libraryPath: string } | { reason: string }> {
  const gcc = Bun.which("gcc");
  if (!gcc) return { reason: "gcc is not installed (needed to build the libstdc++ shim)" };
  mkdirSync(dir, { recursive: true });
  for (const name of GLIBC_CXX_LIBRARIES) {
    const located = Bun.spawnSync([gcc, `-print-file-name=${name}`]).stdout.toString().trim();
    if (!located.startsWith("/") || !existsSync(located)) return { reason: `gcc cannot find ${name}` };
    copyFileSync(located, join(dir, name));
  }
  await Bun.write(join(dir, "shim.c"), SHIM_C);
  const proc = Bun.spawn([gcc, "-shared", "-fPIC", "-nostdlib", "-O2", "-o", join(dir, "ld-linux-x86-64.so.2"), join(dir, "shim.c")], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), GCC_TIMEOUT_MS);
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  if (code !== 0) return { reason: `gcc could not build the shim: ${stderr.trim()}` };
  return { libraryPath: dir };
}

/**
 * Whether a failed run's stderr is the stand-in libraries falling short (musl's loader names the
 * library it was relocating), as opposed to a problem in the release binary itself.
 */
export function standInShortfall(stderr: string, libraryPath: string): string | null {
  const lines = stderr.split("\n").filter((l) => l.startsWith("Error relocating " + libraryPath) || l.startsWith("Error loading shared library"));
  return lines.length > 0 ? lines.slice(0, 3).join("; ") : null;
}
