// Every size, delay and status the pool uses, named in one place (STYLE.md).
// The sizes trade per-message cost against memory held by in-flight messages; see protocol.ts.

/** Body chunks up to this size are copied into the turn's shared "small bytes" buffer instead of
 *  travelling as their own transferred ArrayBuffer (one transfer per batch, not per chunk). */
export const SMALL_CHUNK_MAX = 16 * 1024;

/** Size of the staging area that collects small chunks during one event-loop turn; when full it
 *  is sealed into the message and a new one starts, so a retained view pins at most this much. */
export const SMALL_STAGING_SIZE = 64 * 1024;

/** A larger body chunk from the app is sent in pieces of at most this size, with the flow-control
 *  check between pieces, so one huge chunk cannot push far past the high watermark. */
export const DATA_PIECE_MAX = 1024 * 1024;

/** Read size for request bodies streamed from a temp file (--inbuf-overflow): never read whole. */
export const BODY_FILE_READ_SIZE = 64 * 1024;

/** Wait before starting a replacement Worker again after a replacement failed to load the app. */
export const RESPAWN_RETRY_MS = 1000;

/** reload(): a replaced Worker lives on while it finishes the requests it was sent, at most this
 *  long (an endless stream must not keep old code running forever); then they fail and it stops. */
export const RELOAD_DRAIN_MS = 30_000;

/** --worker-max-memory for a Worker stuck in one synchronous allocation loop (its heap report is
 *  stale then): when the process's resident memory passes Workers x the limit plus this much for
 *  the main thread, a Worker whose heartbeat has been silent MEMORY_SILENCE_MS is taken to be it. */
export const MAIN_THREAD_ALLOWANCE_MIB = 256;
export const MEMORY_SILENCE_MS = 1000;

/** reload(): after its last request, a replaced Worker gets this long to run the cancel and
 *  cleanup callbacks it was just sent before it is terminated. */
export const RETIRE_GRACE_MS = 500;

/** A handler that threw, rejected or returned something other than a Response (DESIGN.md §1);
 *  also the answer for requests held by a Worker that died. */
export const STATUS_APP_ERROR = 500;
export const BODY_APP_ERROR = "Internal Server Error";

/** Requests the pool will not run any more: it is closing, or closed with the request unfinished. */
export const STATUS_UNAVAILABLE = 503;
export const BODY_UNAVAILABLE = "Service Unavailable";

/** A method the runtime's Request cannot carry (Bun turns unknown methods into GET). */
export const STATUS_METHOD_UNSUPPORTED = 501;
export const BODY_METHOD_UNSUPPORTED = "Not Implemented";

/** Bytes of a Node-style tunnel's writes (node-tunnel.ts) the main thread has not yet handed to
 *  the client's socket, past which the socket holds the app's next write (write() returns false,
 *  'drain' follows the acknowledgements). */
export const TUNNEL_WRITE_WINDOW = 1024 * 1024;

/** Streamed response bytes (OP_DATA) a Worker may have in transit to the main thread, across all
 *  its requests, before its streams wait (issue 13 item 7): without it, many streams each allowed
 *  --outbuf-high-watermark could all be in flight at once (100 x 16 MiB). Bytes the main thread has
 *  taken into its buffers (memory or temp file) are no longer in transit, so a stalled client's
 *  stream holds none of it and cannot stop the others. */
export const TRANSIT_MAX = 4 * 1024 * 1024;
