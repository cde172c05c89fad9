// HttpServer::drain, the services' graceful stop, over real loopback sockets on one thread: the
// clients are blocking sockets that connect while the loop does not run, so their connections
// wait in the kernel's accept queue when drain() comes; each is answered (Connection: close),
// a kept-alive connection waiting for its next request is closed, and on_drained runs once the
// last connection is gone, which lets the loop end.
#include "base/http_server.h"
#include "blocking_client.h"

#include <arpa/inet.h>
#include <chrono>
#include <doctest/doctest.h>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <uv.h>
#include <vector>

namespace {

using test_support::Client;

const std::string kGet = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";

} // namespace

TEST_CASE("http server: drain answers what is in, the accept queue too, then is done") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    http::HttpServer server(&loop, [](http::Request&& request, http::Reply reply) {
      reply(http::Response::text(200, "hello " + request.target + "\n"));
    });
    server.listen("127.0.0.1", 0);

    // A kept-alive connection with one request answered, now waiting for its next.
    Client idle(server.port());
    REQUIRE(idle.send(kGet));
    for (int i = 0; i < 500 && !idle.readable(); ++i) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(idle.read_some().find("hello /x") != std::string::npos);

    // The loop does not run: these wait in the accept queue, their requests sent.
    std::vector<std::unique_ptr<Client>> queued;
    for (int i = 0; i < 4; ++i) {
      queued.push_back(std::make_unique<Client>(server.port()));
      queued.back()->send(kGet);
    }
    bool drained = false;
    server.drain([&] {
      drained = true;
      server.close();
    });
    CHECK(!drained);
    uv_run(&loop, UV_RUN_DEFAULT); // ends once nothing is left
    CHECK(drained);
    CHECK(server.connection_count() == 0);
    for (auto& c : queued) {
      std::string answer = c->read_to_close();
      CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
      CHECK(answer.find("Connection: close") != std::string::npos);
      CHECK(answer.find("hello /x") != std::string::npos);
    }
    CHECK(idle.read_to_close().empty());
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("http server: drain with nothing in is done at once") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    http::HttpServer server(
        &loop, [](http::Request&&, http::Reply reply) { reply(http::Response::text(200, "x")); });
    server.listen("127.0.0.1", 0);
    bool drained = false;
    server.drain([&] { drained = true; });
    CHECK(drained);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
