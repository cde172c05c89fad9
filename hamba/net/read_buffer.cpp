// The read buffer, one per thread; see read_buffer.h.
#include "net/read_buffer.h"

namespace hamba::net {

char* read_buffer() {
  static thread_local char buffer[kBufferSize];
  return buffer;
}

} // namespace hamba::net
