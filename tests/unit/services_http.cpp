// HttpServer and HttpClient against each other on one loop: answers now and later, keep-alive,
// size limits, a request the parser rejects, a server that is not there.
#include "base/http_client.h"
#include "base/http_server.h"

#include <doctest/doctest.h>
#include <memory>
#include <uv.h>

namespace {

// A loop with one server on 127.0.0.1:<port 0>; run() until `done` or a 5 s safety timer.
struct Fixture {
  uv_loop_t loop{};
  std::unique_ptr<http::HttpServer> server;
  std::unique_ptr<http::HttpClient> client;
  uvx::Handle<uv_timer_t> later;   // for answers given later
  uvx::Handle<uv_timer_t> timeout; // test safety net

  Fixture(http::Handler handler, http::ServerOptions options = {}) {
    uv_loop_init(&loop);
    server = std::make_unique<http::HttpServer>(&loop, std::move(handler), options);
    server->listen("127.0.0.1", 0);
    client =
        std::make_unique<http::HttpClient>(&loop, hamba::Endpoint{"127.0.0.1", server->port()});
    later.init([&](uv_timer_t* t) { return uv_timer_init(&loop, t); });
    timeout.init([&](uv_timer_t* t) { return uv_timer_init(&loop, t); });
    timeout.set_data(this);
    uv_timer_start(
        timeout.get(), [](uv_timer_t* t) { uv_stop(t->loop); }, 5000, 0);
    uv_unref(timeout.base());
  }
  ~Fixture() {
    client.reset();
    server.reset();
    later.close();
    timeout.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  // Sends one request and runs the loop until its answer.
  http::ClientResult fetch(std::string method, std::string target, std::string body = {}) {
    http::ClientResult out;
    bool done = false;
    client->request(std::move(method), std::move(target), std::move(body), {},
                    [&](http::ClientResult r) {
                      out = std::move(r);
                      done = true;
                      uv_stop(&loop);
                    });
    uv_ref(timeout.base());
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_unref(timeout.base());
    REQUIRE(done);
    return out;
  }
};

void echo(http::Request&& req, http::Reply reply) {
  if (req.path == "/missing")
    return reply(http::Response::error(404));
  http::Response r = http::Response::text(200, req.method + " " + req.target + " " + req.body);
  r.headers.push_back({"X-Query", req.query});
  reply(std::move(r));
}

} // namespace

TEST_CASE("http: GET and POST round trips on one kept-alive connection") {
  Fixture f(echo);
  auto a = f.fetch("GET", "/hello?x=1");
  REQUIRE(a.ok());
  CHECK(a.status == 200);
  CHECK(a.body == "GET /hello?x=1 ");
  CHECK(a.header("x-query") == "x=1");
  CHECK(a.header("Content-Type") == "text/plain; charset=utf-8");
  auto b = f.fetch("POST", "/", "some body");
  REQUIRE(b.ok());
  CHECK(b.body == "POST / some body");
  CHECK(f.server->connection_count() == 1); // the second request reused the connection
  auto c = f.fetch("GET", "/missing");
  REQUIRE(c.ok());
  CHECK(c.status == 404);
  CHECK(c.body == "404 Not Found\n");
}

TEST_CASE("http: an answer given later, from a timer") {
  http::Reply saved;
  Fixture* fp = nullptr;
  Fixture f([&](http::Request&&, http::Reply reply) {
    saved = std::move(reply);
    fp->later.set_data(&saved);
    uv_timer_start(
        fp->later.get(),
        [](uv_timer_t* t) {
          auto* r = static_cast<http::Reply*>(t->data);
          (*r)(http::Response::text(201, "later"));
        },
        50, 0);
  });
  fp = &f;
  auto a = f.fetch("GET", "/");
  REQUIRE(a.ok());
  CHECK(a.status == 201);
  CHECK(a.body == "later");
}

TEST_CASE("http: a body over the limit gets 413, the next request works on a new connection") {
  http::ServerOptions options;
  options.max_body = 1000;
  Fixture f(echo, options);
  auto big = f.fetch("POST", "/", std::string(1001, 'x'));
  REQUIRE(big.ok());
  CHECK(big.status == 413);
  auto ok = f.fetch("POST", "/", std::string(1000, 'x'));
  REQUIRE(ok.ok());
  CHECK(ok.status == 200);
  CHECK(ok.body.size() == std::string("POST / ").size() + 1000);
}

TEST_CASE("http: a 1 MiB answer arrives whole") {
  Fixture f([](http::Request&&, http::Reply reply) {
    reply(http::Response::text(200, std::string(1 << 20, 'z')));
  });
  auto a = f.fetch("GET", "/");
  REQUIRE(a.ok());
  CHECK(a.body.size() == (1u << 20));
}

TEST_CASE("http: an unparsable request gets 400") {
  Fixture f(echo);
  // A method with a space in the target parses badly: "GET /a b c HTTP/1.1".
  auto a = f.fetch("GET", "/a b c");
  REQUIRE(a.ok());
  CHECK(a.status == 400);
}

TEST_CASE("http: HEAD gets the headers without the body") {
  Fixture f(echo);
  auto a = f.fetch("HEAD", "/x");
  REQUIRE(a.ok());
  CHECK(a.status == 200);
  CHECK(a.header("Content-Length") == "8"); // "HEAD /x " (the body a GET would get)
  CHECK(a.body.empty());
  auto b = f.fetch("GET", "/y"); // the connection is still in step
  REQUIRE(b.ok());
  CHECK(b.body == "GET /y ");
}

TEST_CASE("http: a client to a closed port reports the connect error") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uint16_t port = 0;
  {
    http::HttpServer probe(&loop, echo);
    probe.listen("127.0.0.1", 0);
    port = probe.port();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  http::ClientResult out;
  {
    http::HttpClient client(&loop, {"127.0.0.1", port});
    client.request("GET", "/", {}, {}, [&](http::ClientResult r) { out = std::move(r); });
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  CHECK(!out.ok());
  CHECK(out.error.find("ECONNREFUSED") != std::string::npos);
}
