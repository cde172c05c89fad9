// Resolves one server name, again and again, without blocking the loop (uv_getaddrinfo runs
// in libuv's thread pool). An IP literal is parsed at once and never resolved again.
//
//     Resolver r(loop, {"rng", 80}, 5s, [](int status, std::vector<sockaddr_storage> addrs) {...});
//     r.start();   // first answer as soon as it comes, then every interval
//
// The callback gets status 0 and every address (IPv4 and IPv6, deduplicated, in resolver
// order), or a libuv error (UV_EAI_NONAME: the name does not exist, now) and no address.
#pragma once

#include "base/uv_handle.h"
#include "base/uv_request.h"
#include "config/config.h"

#include <functional>
#include <sys/socket.h>
#include <vector>

namespace hamba::balance {

class Resolver {
public:
  using Callback = std::function<void(int status, const std::vector<sockaddr_storage>& addresses)>;
  Resolver(uv_loop_t* loop, config::Endpoint name, config::Duration interval, Callback callback);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  void start();
  void set_interval(config::Duration interval) { interval_ = interval; }
  const config::Endpoint& name() const { return name_; }

private:
  void resolve_now();
  void on_resolved(int status, const addrinfo* result);
  void schedule();

  uv_loop_t* loop_;
  config::Endpoint name_;
  config::Duration interval_;
  Callback callback_;
  uvx::Timer timer_;
  uvx::Requests<uv_getaddrinfo_t> resolve_;
};

} // namespace hamba::balance
