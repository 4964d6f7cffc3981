// The app interfaces tray serves (--interface): fetch (DESIGN.md §1) and Node's (req, res), and
// "auto", which tells them apart once at load time (detect.ts). A leaf module: the option table,
// the loader and the pool all name the same three words.

export const APP_INTERFACES = ["auto", "fetch", "node"] as const;

export type AppInterface = (typeof APP_INTERFACES)[number];
