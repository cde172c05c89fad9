// Attaches a hiredis async context to a libuv loop: hiredis's event hooks (addRead, addWrite,
// ..., cleanup) drive one uv_poll_t on the context's socket.
//
// Why not hiredis's own adapter (<hiredis/adapters/libuv.h>, hiredis 0.14): when the socket
// reports an error (POLLERR: a refused connect, a reset connection), libuv stops the poll and
// calls back with a status, which that adapter ignores, so hiredis never learns of the error and
// the context hangs (a refused connection waits for the connect timeout, a reset one forever).
// Here an error is handed to hiredis as an I/O event, and hiredis finds the socket error itself.
// It also keeps the project's rule that every libuv handle is owned by a uvx::Handle.
#pragma once

#include <uv.h>

struct redisAsyncContext;

namespace services {

// Returns false if the context already has event hooks. The hooks free themselves when hiredis
// frees the context.
bool attach_to_loop(redisAsyncContext* context, uv_loop_t* loop);

} // namespace services
