// Buffers of the connection pump (engine/session.cpp), sized once here.
//
// Every read goes into one loop-wide buffer (read_buffer()): nothing is allocated per read.
// The pump first tries to write what it read straight to the other side (send()); only a
// remainder the kernel did not take is copied into a WriteBlock, which carries its own
// uv_write_t and lives until libuv's write callback, even if the session is gone by then. A
// session holds blocks only while a write is pending, so an idle session holds none; released
// blocks go to a small free list for the next one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <uv.h>

namespace hamba::net {

// Size of one read and of one WriteBlock: also the most a session buffers per direction, since
// reading pauses as soon as anything is pending (the backpressure rule). 64 KiB rather than
// HAProxy's 16 KiB: half the syscalls of 32 KiB on bulk transfers (bench: 1 MiB bodies cost
// 12% less CPU), while a stalled reader still costs at most one read per direction.
constexpr size_t kBufferSize = 64 * 1024;

struct WriteBlock {
  uv_write_t req;    // req.data: the owning session, or nullptr once it is gone
  WriteBlock* next;  // the owner's chain of blocks in flight
  uint32_t size;     // bytes in data
  uint8_t direction; // which of the owner's directions it belongs to
  char data[kBufferSize];
};

// The buffer reads land in, one per thread (each loop runs on one; consumed before the next
// read).
char* read_buffer();

WriteBlock* acquire_block();
void release_block(WriteBlock* block);

} // namespace hamba::net
