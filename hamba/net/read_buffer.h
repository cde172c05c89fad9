// The buffer every relayed read lands in, one per thread, and the size of one read.
//
// Nothing is allocated per read: a read goes into read_buffer(), the relay writes it straight
// to the other side, and only what the kernel did not take is copied into the transport's
// write queue (net/tcp_transport.h). Each loop runs on one thread and consumes a read before
// the next one.
#pragma once

#include <cstddef>

namespace hamba::net {

// Size of one read and of one queued block. Reading pauses as soon as anything is queued
// toward the other side (the transports' default marks), so this is also the most a connection
// holds per direction. 64 KiB rather than HAProxy's 16 KiB: half the syscalls of 32 KiB on bulk
// transfers (bench: 1 MiB bodies cost 12% less CPU), while a stalled reader still costs at most
// one read per direction.
constexpr size_t kBufferSize = 64 * 1024;

char* read_buffer();

} // namespace hamba::net
