// uvx::Requests: the owner's member runs when libuv calls back; an owner that detached (or was
// destroyed) first is never called, and the late callback still frees the request (ASan).
#include "base/uv_handle.h"
#include "base/uv_request.h"

#include <doctest/doctest.h>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <vector>

namespace {

// A port on 127.0.0.1 that refuses connections: bound, never listening.
struct RefusingPort {
  uv_loop_t* loop;
  uvx::Handle<uv_tcp_t> tcp;
  sockaddr_in address{};
  explicit RefusingPort(uv_loop_t* l) : loop(l) {
    uv_ip4_addr("127.0.0.1", 0, &address);
    REQUIRE(tcp.init([&](uv_tcp_t* t) { return uv_tcp_init(loop, t); }) == 0);
    REQUIRE(uv_tcp_bind(tcp.get(), reinterpret_cast<sockaddr*>(&address), 0) == 0);
    int len = sizeof address;
    uv_tcp_getsockname(tcp.get(), reinterpret_cast<sockaddr*>(&address), &len);
  }
};

struct Connector {
  uv_loop_t* loop;
  uvx::Handle<uv_tcp_t> tcp;
  uvx::Requests<uv_connect_t> connect;
  std::vector<int> results;

  explicit Connector(uv_loop_t* l) : loop(l) {}
  int start(const sockaddr_in& to) {
    tcp.init([&](uv_tcp_t* t) { return uv_tcp_init(loop, t); });
    return connect.start<&Connector::on_connected>(this, [&](uv_connect_t* req, auto done) {
      return uv_tcp_connect(req, tcp.get(), reinterpret_cast<const sockaddr*>(&to), done);
    });
  }
  void on_connected(int status) { results.push_back(status); }
};

struct Job {
  int input = 0;
  int output = 0;
  void run() { output = input * 2; } // on a pool thread
};

struct Worker {
  uv_loop_t* loop;
  uvx::Requests<uv_work_t, Job> work;
  std::vector<int> outputs;
  explicit Worker(uv_loop_t* l) : loop(l) {}
  int start(int input) {
    return work.start<&Worker::on_done>(
        this,
        [&](uv_work_t* req, auto run, auto done) { return uv_queue_work(loop, req, run, done); },
        [&](Job& job) { job.input = input; });
  }
  void on_done(Job& job, int status) {
    if (status == 0)
      outputs.push_back(job.output);
  }
};

struct Loop {
  uv_loop_t loop{};
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
};

} // namespace

TEST_CASE("uv requests: the owner's member gets the callback, once") {
  Loop l;
  RefusingPort port(&l.loop);
  Connector c(&l.loop);
  REQUIRE(c.start(port.address) == 0);
  CHECK(c.connect.count() == 1);
  uv_run(&l.loop, UV_RUN_DEFAULT);
  REQUIRE(c.results.size() == 1);
  CHECK(c.results[0] == UV_ECONNREFUSED);
  CHECK(!c.connect.pending());
}

TEST_CASE("uv requests: an owner that detached is not called by the late callback") {
  Loop l;
  RefusingPort port(&l.loop);
  Connector c(&l.loop);
  REQUIRE(c.start(port.address) == 0);
  c.connect.detach();
  CHECK(!c.connect.pending());
  uv_run(&l.loop, UV_RUN_DEFAULT); // the callback comes, frees the request, calls nobody
  CHECK(c.results.empty());
}

TEST_CASE("uv requests: an owner destroyed first is not called (its memory is gone)") {
  Loop l;
  RefusingPort port(&l.loop);
  auto c = std::make_unique<Connector>(&l.loop);
  REQUIRE(c->start(port.address) == 0);
  c.reset(); // closes its handle and detaches; libuv still holds the request
  uv_run(&l.loop, UV_RUN_DEFAULT);
}

TEST_CASE("uv requests: a work item's data goes to the pool thread and back") {
  Loop l;
  Worker w(&l.loop);
  REQUIRE(w.start(21) == 0);
  REQUIRE(w.start(5) == 0);
  CHECK(w.work.count() == 2);
  uv_run(&l.loop, UV_RUN_DEFAULT);
  CHECK(w.outputs.size() == 2);
  CHECK((w.outputs == std::vector<int>{42, 10} || w.outputs == std::vector<int>{10, 42}));
  CHECK(!w.work.pending());

  // Cancelled or detached: nobody is called, the jobs are still freed.
  REQUIRE(w.start(1) == 0);
  w.work.cancel();
  REQUIRE(w.start(2) == 0);
  w.work.detach();
  uv_run(&l.loop, UV_RUN_DEFAULT);
  CHECK(w.outputs.size() == 2);
}

TEST_CASE("uv requests: a failed start leaves nothing in flight and never calls") {
  Loop l;
  Connector c(&l.loop);
  c.tcp.init([&](uv_tcp_t* t) { return uv_tcp_init(&l.loop, t); });
  int rc =
      c.connect.start<&Connector::on_connected>(&c, [](uv_connect_t*, auto) { return UV_EINVAL; });
  CHECK(rc == UV_EINVAL);
  CHECK(!c.connect.pending());
  uv_run(&l.loop, UV_RUN_DEFAULT);
  CHECK(c.results.empty());
}

TEST_CASE("uv requests: getaddrinfo's answer is read in the member and freed after it") {
  struct Lookup {
    uvx::Requests<uv_getaddrinfo_t> resolve;
    std::vector<std::string> families;
    void on_resolved(int status, const addrinfo* result) {
      REQUIRE(status == 0);
      for (const addrinfo* a = result; a; a = a->ai_next)
        families.push_back(a->ai_family == AF_INET ? "v4" : "other");
    }
  };
  Loop l;
  Lookup lookup;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  REQUIRE(
      lookup.resolve.start<&Lookup::on_resolved>(&lookup, [&](uv_getaddrinfo_t* req, auto done) {
        return uv_getaddrinfo(&l.loop, req, done, "127.0.0.1", "80", &hints);
      }) == 0);
  uv_run(&l.loop, UV_RUN_DEFAULT);
  CHECK(lookup.families == std::vector<std::string>{"v4"});
}
