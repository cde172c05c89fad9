// Periodic, non-blocking name resolution for servers; see resolver.h.
#include "balance/resolver.h"

#include <algorithm>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>

namespace hamba::balance {

Resolver::Resolver(uv_loop_t* loop, config::Endpoint name, config::Duration interval,
                   Callback callback)
    : loop_(loop), name_(std::move(name)), interval_(interval), callback_(std::move(callback)) {}

Resolver::~Resolver() {
  resolve_.cancel(); // its callback only frees the request now
}

void Resolver::start() {
  sockaddr_storage literal;
  if (ip_literal_sockaddr(name_.host, name_.port, literal)) {
    callback_(0, {literal});
    return;
  }
  timer_.init(loop_, this);
  resolve_now();
}

void Resolver::schedule() {
  timer_.start<&Resolver::resolve_now>(static_cast<uint64_t>(interval_.count()));
}

void Resolver::resolve_now() {
  if (resolve_.pending())
    return;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  std::string port = std::to_string(name_.port);
  int rc = resolve_.start<&Resolver::on_resolved>(this, [&](uv_getaddrinfo_t* req, auto done) {
    return uv_getaddrinfo(loop_, req, done, name_.host.c_str(), port.c_str(), &hints);
  });
  if (rc < 0) {
    schedule();
    callback_(rc, {}); // last: the callback may destroy this resolver
  }
}

void Resolver::on_resolved(int status, const addrinfo* result) {
  std::vector<sockaddr_storage> addresses;
  if (status == 0) {
    for (const addrinfo* ai = result; ai; ai = ai->ai_next) {
      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
        continue;
      sockaddr_storage a{};
      std::memcpy(&a, ai->ai_addr, ai->ai_addrlen);
      bool seen = std::any_of(addresses.begin(), addresses.end(), [&](const sockaddr_storage& b) {
        return std::memcmp(&a, &b, sizeof a) == 0;
      });
      if (!seen)
        addresses.push_back(a);
    }
  }
  schedule();
  callback_(status, addresses);
}

} // namespace hamba::balance
