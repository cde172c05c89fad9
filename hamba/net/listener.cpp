// Listening sockets; see listener.h.
#include "net/listener.h"

#include "balance/resolver.h"

#include <fmt/format.h>

namespace hamba::net {

Listener::Listener(uv_loop_t* loop, const config::Endpoint& bind,
                   std::function<void()> on_connection)
    : bind_(bind), on_connection_(std::move(on_connection)) {
  std::string host = bind.host.empty() ? "0.0.0.0" : bind.host;
  std::string shown = config::format_endpoint({host, bind.port});
  sockaddr_storage addr;
  if (!balance::parse_ip_literal(host, bind.port, addr))
    throw ListenError(fmt::format("cannot listen on {}: not an IP address", shown), UV_EINVAL);
  int rc = tcp_.init([&](uv_tcp_t* h) { return uv_tcp_init(loop, h); });
  if (rc == 0)
    rc = uv_tcp_bind(tcp_.get(), reinterpret_cast<const sockaddr*>(&addr),
                     addr.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0) {
    tcp_.set_data(this);
    rc = uv_listen(tcp_.stream(), 4096, [](uv_stream_t* server, int status) {
      auto* self = uvx::Handle<uv_tcp_t>::owner<Listener>(server);
      if (!self || status < 0)
        return; // accept errors (EMFILE...) are retried by libuv on the next event
      self->pending_ = true;
      self->on_connection_();
    });
  }
  if (rc < 0) {
    tcp_.close();
    const char* hint = rc == UV_EADDRINUSE      ? " (another process listens there)"
                       : rc == UV_EADDRNOTAVAIL ? " (that address is not one of this host's)"
                       : rc == UV_EACCES        ? " (ports below 1024 need privileges)"
                                                : "";
    throw ListenError(fmt::format("cannot listen on {}: {}{}", shown, uvx::error_text(rc), hint),
                      rc);
  }
}

int Listener::accept(uv_tcp_t* client) {
  pending_ = false;
  return uv_accept(tcp_.stream(), reinterpret_cast<uv_stream_t*>(client));
}

} // namespace hamba::net
