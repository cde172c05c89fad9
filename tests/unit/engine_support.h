// What the unit tests that run a real Engine share: a free port, and a clean stop.
#pragma once

#include "config/config.h"
#include "engine/engine.h"

#include <cstdint>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace engine_support {

// A port that was free a moment ago (the kernel's choice).
inline uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Shuts `engine` down (no session open: done as soon as every worker says so) and runs `loop`
// until it has.
inline void shut_down(hamba::engine::Engine& engine, uv_loop_t& loop) {
  bool done = false;
  engine.shutdown(hamba::config::Duration(1000), [&] { done = true; });
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(done);
}

} // namespace engine_support
