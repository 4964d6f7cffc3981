// Every bound of the app layer in one place: how much of a user's module tray quotes back in an
// error line, and how far it follows tsconfig "extends".

/** Names listed in an error ("it exports: a, b, ..."); the rest are counted, not listed. */
export const MAX_LISTED_NAMES = 12;

/** Characters of a foreign error message (syntax error, a throw) quoted in one error line. */
export const MAX_QUOTED_ERROR_CHARS = 240;

/** tsconfig.json "extends" links followed before giving up (also stops cycles). */
export const MAX_TSCONFIG_EXTENDS_DEPTH = 8;
