// webui: DockerCoins' web UI. Serves the mining dashboard (static files) and `/json`, the
// numbers it plots: {"coins": HLEN wallet, "hashes": GET hashes, "now": unix seconds}.
//
//     webui --listen 0.0.0.0:80 --redis redis:6379 --files /usr/share/dockercoins/webui
#include "base/http_server.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/redis_client.h"
#include "common/service_main.h"
#include "common/stop_signals.h"
#include "webui/static_files.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <uv.h>

namespace {

// The installed files if they are there, else the ones in the source tree (a build run in
// place).
std::string default_files_dir() {
  std::error_code ec;
  if (std::filesystem::is_directory(WEBUI_INSTALLED_FILES, ec))
    return WEBUI_INSTALLED_FILES;
  return WEBUI_SOURCE_FILES;
}

http::Response json(int status, std::string body) {
  http::Response r = http::Response::text(status, std::move(body));
  r.content_type = "application/json";
  r.headers.push_back({"Cache-Control", "no-store"});
  return r;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += {'\\', c};
    else if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    else
      out += c;
  }
  return out + "\"";
}

// Answers /json once both Redis replies are in (they are pipelined on one connection).
struct JsonAnswer {
  http::Reply reply;
  std::string error;
  long long coins = 0;
  long long hashes = 0;
  int missing = 2;

  void got() {
    if (--missing > 0)
      return;
    if (!error.empty()) {
      services::log::error("/json: {}", error);
      return reply(json(503, fmt::format("{{\"error\": {}}}\n", json_string(error))));
    }
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    reply(json(200, fmt::format("{{\"coins\": {}, \"hashes\": {}, \"now\": {:.3f}}}\n", coins,
                                hashes, now)));
  }
};

void answer_json(services::RedisClient& redis, http::Reply reply) {
  auto answer = std::make_shared<JsonAnswer>();
  answer->reply = std::move(reply);
  redis.command({"HLEN", "wallet"}, [answer](services::RedisReply r) {
    if (!r.ok())
      answer->error = r.error;
    else
      answer->coins = r.integer;
    answer->got();
  });
  redis.command({"GET", "hashes"}, [answer](services::RedisReply r) {
    if (!r.ok())
      answer->error = r.error;
    else if (r.type == services::RedisReply::Type::String)
      answer->hashes = std::strtoll(r.str.c_str(), nullptr, 10);
    answer->got(); // a missing key (nil) counts as 0
  });
}

} // namespace

int main(int argc, char** argv) {
  services::Flags flags("webui", "DockerCoins web UI: the mining dashboard and /json.");
  flags.add("listen", "0.0.0.0:80", "ADDR:PORT to listen on");
  flags.add("redis", "redis:6379", "Redis server, HOST:PORT");
  flags.add("files", default_files_dir(), "directory of the page's static files");
  flags.add_switch("debug", "debug logs (also DEBUG=y)");
  flags.parse_or_exit(argc, argv);

  return services::run_service([&](uv_loop_t* loop) {
    const auto listen = flags.host_port("listen");
    const auto redis_at = flags.host_port("redis");
    services::log::init("webui", flags.on("debug"));
    webui::StaticFiles files;
    files.load(flags.get("files"));

    services::RedisClient redis(loop, redis_at);
    http::HttpServer server(loop, [&](http::Request&& req, http::Reply reply) {
      services::log::debug("{} {} from {}", req.method, req.target, req.peer);
      if (req.method != "GET" && req.method != "HEAD")
        return reply(http::Response::method_not_allowed("GET, HEAD"));
      if (req.path == "/")
        return reply(http::Response::redirect("/index.html"));
      if (req.path == "/json")
        return answer_json(redis, std::move(reply));
      if (const auto* file = files.find(req.path)) {
        http::Response r;
        r.content_type = file->content_type;
        r.body = file->body;
        r.headers.push_back({"Cache-Control", "no-cache"});
        return reply(std::move(r));
      }
      reply(http::Response::error(404));
    });
    server.listen(listen.host, listen.port);
    // SIGTERM: the requests already in are answered (Redis stays until then), for kDrainMs at
    // most.
    services::StopSignals stop(
        loop,
        [&] {
          server.drain([&] {
            server.close();
            redis.close();
          });
        },
        services::kDrainMs);
    services::log::info("listening on {}, Redis {}, {} files from {}",
                        hamba::format_endpoint(listen), hamba::format_endpoint(redis_at),
                        files.size(), flags.get("files"));
    uv_run(loop, UV_RUN_DEFAULT);
  });
}
