// The loop-wide read buffer and the free list of write blocks; see write_buffer.h.
#include "net/write_buffer.h"

#include <new>

namespace hamba::net {

namespace {
// Blocks kept for reuse: enough for bursts of slow writes, small enough to give memory back.
// Per thread, as the read buffer: each event loop runs on one thread and needs no lock.
constexpr size_t kFreeListMax = 64;
thread_local WriteBlock* free_list = nullptr;
thread_local size_t free_count = 0;
} // namespace

char* read_buffer() {
  static thread_local char buffer[kBufferSize];
  return buffer;
}

WriteBlock* acquire_block() {
  if (free_list) {
    WriteBlock* b = free_list;
    free_list = b->next;
    --free_count;
    b->next = nullptr;
    return b;
  }
  auto* b = static_cast<WriteBlock*>(::operator new(sizeof(WriteBlock)));
  b->next = nullptr;
  return b;
}

void release_block(WriteBlock* block) {
  if (free_count >= kFreeListMax) {
    ::operator delete(block);
    return;
  }
  block->next = free_list;
  free_list = block;
  ++free_count;
}

} // namespace hamba::net
