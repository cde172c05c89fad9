// The client side of the control socket, used by the short-lived commands `hamba reconfigure`,
// `showconfig`, `enable`, `disable` and `drain`: connect, send one request, wait for the reply.
// Blocking on purpose: these commands have no event loop and nothing else to do meanwhile.
#pragma once

#include "control/protocol.h"

#include <chrono>
#include <stdexcept>
#include <string>

namespace hamba::control {

// The running hamba could not be reached or did not answer; what() says which and what to do.
class Unreachable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Sends `request` to the hamba listening on `path` and returns its reply. Throws Unreachable
// when nothing listens there, the connection breaks, or no reply comes within `timeout`.
Reply send_request(const std::string& path, const Request& request,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

} // namespace hamba::control
