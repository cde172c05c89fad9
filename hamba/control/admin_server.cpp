// Routes the admin HTTP requests to the stats renderers (see admin_server.h).
#include "control/admin_server.h"

#include "base/http_server.h"
#include "config/config.h"
#include "control/stats_render.h"

#include <stdexcept>

namespace hamba::control {

AdminServer::AdminServer(uv_loop_t* loop, Collect collect)
    : loop_(loop), collect_(std::move(collect)) {}

AdminServer::~AdminServer() = default;

int AdminServer::port() const {
  return server_ ? server_->port() : 0;
}

void AdminServer::listen(const std::string& address) {
  if (address == address_ && (server_ || address.empty()))
    return;
  if (server_)
    server_->close();
  server_.reset();
  address_.clear();
  if (address.empty())
    return;
  config::Endpoint where = config::parse_endpoint(address);
  auto server = std::make_unique<http::HttpServer>(
      loop_,
      [this](http::Request&& request, http::Reply reply) {
        if (request.method != "GET" && request.method != "HEAD")
          return reply(http::Response::error(405, "the admin endpoints only answer GET"));
        http::Response response;
        response.headers.push_back({"Cache-Control", "no-store"});
        if (request.path == "/" || request.path == "/stats") {
          response.content_type = "text/html; charset=utf-8";
          response.body = render_stats_html(collect_());
        } else if (request.path == "/metrics") {
          response.content_type = "text/plain; version=0.0.4; charset=utf-8";
          response.body = render_metrics(collect_());
        } else if (request.path == "/stats.json") {
          response.content_type = "application/json";
          response.body = render_stats_json(collect_());
        } else {
          return reply(http::Response::error(404, "try /, /metrics or /stats.json"));
        }
        reply(std::move(response));
      },
      http::ServerOptions{.max_body = 0,
                          .max_target = 2048,
                          .idle_timeout_ms = 60000,
                          .max_connections = 64,
                          .server_name = "hamba"});
  try {
    server->listen(where.host, where.port);
  } catch (const std::exception& e) {
    server->close();
    throw std::runtime_error("admin address " + address + ": " + e.what());
  }
  server_ = std::move(server);
  address_ = address;
}

} // namespace hamba::control
