// Buffers of the connection pump (engine/session.cpp), sized once here.
//
// Every read goes into one loop-wide buffer (read_buffer()): nothing is allocated per read.
// The pump first tries to write what it read straight to the other side (send()); only a
// remainder the kernel did not take is copied into the write request that carries it
// (base/uv_request.h keeps its memory for reuse), which lives until libuv's write callback,
// even if the session is gone by then. A session holds such a remainder only while a write is
// pending, so an idle session holds none.
#pragma once

#include <cstddef>

namespace hamba::net {

// Size of one read and of one remainder: also the most a session buffers per direction, since
// reading pauses as soon as anything is pending (the backpressure rule). 64 KiB rather than
// HAProxy's 16 KiB: half the syscalls of 32 KiB on bulk transfers (bench: 1 MiB bodies cost
// 12% less CPU), while a stalled reader still costs at most one read per direction.
constexpr size_t kBufferSize = 64 * 1024;

// The buffer reads land in, one per thread (each loop runs on one; consumed before the next
// read).
char* read_buffer();

} // namespace hamba::net
