// Whose fault a failed socket call is. A connect or a health check can fail because the server
// refused, reset or did not answer (its fault: count it, take it down), or because this process
// or machine ran out of something (our fault: the server may be perfectly fine). hamba's own
// shortage must never mark a server down or count as one of its failures; this is the one
// place that tells the two apart, for the sessions and the health checks alike.
#pragma once

#include <uv.h>

namespace hamba {

// True for a libuv status that says "hamba could not even try": no file descriptors (EMFILE,
// ENFILE), no buffer space or memory (ENOBUFS, ENOMEM), no local port left (EADDRNOTAVAIL on a
// connect).
inline bool is_local_failure(int status) {
  switch (status) {
  case UV_EMFILE:
  case UV_ENFILE:
  case UV_ENOBUFS:
  case UV_ENOMEM:
  case UV_EADDRNOTAVAIL:
    return true;
  default:
    return false;
  }
}

} // namespace hamba
