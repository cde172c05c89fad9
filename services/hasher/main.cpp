// hasher: DockerCoins' hashing service. `POST /` answers the lowercase hex SHA-256 of the body
// (as `sha256sum` prints it) after a simulated delay; requests are served concurrently, as the
// original Ruby/Sinatra service did.
//
//     hasher --listen 0.0.0.0:80 --delay-ms 100 --max-body 16777216
#include "base/http_server.h"
#include "common/crypto.h"
#include "common/delayed_calls.h"
#include "common/flags.h"
#include "common/hostname.h"
#include "common/log.h"
#include "common/service_main.h"
#include "common/stop_signals.h"

#include <uv.h>

int main(int argc, char** argv) {
  services::Flags flags("hasher", "DockerCoins hasher: POST / answers the SHA-256 of the body.");
  flags.add("listen", "0.0.0.0:80", "ADDR:PORT to listen on");
  flags.add("delay-ms", "100", "simulated work per request, in milliseconds");
  flags.add("max-body", "16777216", "largest body accepted, in bytes (more: 413)");
  flags.add_switch("debug", "debug logs (also DEBUG=y)");
  flags.parse_or_exit(argc, argv);

  return services::run_service([&](uv_loop_t* loop) {
    const auto listen = flags.host_port("listen");
    const auto delay_ms = flags.number("delay-ms", 0, 600000);
    const auto max_body = flags.number("max-body", 0, 1ull << 30);
    services::log::init("hasher", flags.on("debug"));

    services::DelayedCalls delays(loop);
    const std::string hello = "HASHER running on " + services::hostname() + "\n";
    http::ServerOptions options;
    options.max_body = max_body;
    http::HttpServer server(
        loop,
        [&](http::Request&& req, http::Reply reply) {
          services::log::debug("{} {} ({} bytes) from {}", req.method, req.target, req.body.size(),
                               req.peer);
          if (req.path != "/")
            return reply(http::Response::error(404));
          if (req.method == "GET" || req.method == "HEAD")
            return reply(http::Response::text(200, hello));
          if (req.method != "POST")
            return reply(http::Response::method_not_allowed("GET, HEAD, POST"));
          delays.after(delay_ms,
                       [reply = std::move(reply), hash = services::sha256_hex(req.body)]() mutable {
                         reply(http::Response::text(200, std::move(hash)));
                       });
        },
        options);
    server.listen(listen.host, listen.port);
    // SIGTERM: the requests already in are answered, for kDrainMs at most.
    services::StopSignals stop(
        loop,
        [&] {
          server.drain([&] {
            server.close();
            delays.cancel_all();
          });
        },
        services::kDrainMs);
    services::log::info("listening on {} (delay {} ms)", hamba::format_endpoint(listen), delay_ms);
    uv_run(loop, UV_RUN_DEFAULT);
  });
}
