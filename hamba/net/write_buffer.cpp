// The read buffer, one per thread; see write_buffer.h.
#include "net/write_buffer.h"

namespace hamba::net {

char* read_buffer() {
  static thread_local char buffer[kBufferSize];
  return buffer;
}

} // namespace hamba::net
