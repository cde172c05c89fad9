// One client connection as it ends, for the optional per-connection log (written by the worker
// that ran it).
#pragma once

#include <cstdint>
#include <string>

namespace hamba::engine {

struct SessionEnd {
  std::string frontend;
  std::string client;     // "127.0.0.1:40112"
  std::string server;     // the server as configured, "" when none was reached
  std::string address;    // the resolved address connected to, "" when none
  uint64_t bytes_in = 0;  // client -> server
  uint64_t bytes_out = 0; // server -> client
  uint64_t duration_ms = 0;
  const char* end = "";    // "closed", "client reset", "server reset", "idle timeout", ...
  std::string tls_subject; // client_ca: the verified client certificate's subject, else
};

} // namespace hamba::engine
