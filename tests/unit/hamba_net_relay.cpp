// The relay against fake transports: bytes go both ways in order, backpressure stops and
// resumes the source, half-closes pass after the last byte, and a reset or a failed write ends
// it blaming the side that failed.
#include "net/relay.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace hamba::net;

namespace {

// A transport whose kernel is a string: writes land in `sent` (or `queue` while `stuck`).
class FakeTransport final : public Transport {
public:
  int start_reading() override {
    reading = true;
    return 0;
  }
  int read_into(char*, size_t) override { return start_reading(); }
  void stop_reading() override { reading = false; }
  ssize_t read_now(char*, size_t) override { return UV_EAGAIN; }
  int write(const uv_buf_t* bufs, unsigned count) override {
    if (broken)
      return UV_EPIPE;
    for (unsigned i = 0; i < count; ++i)
      (stuck ? queue : sent).append(bufs[i].base, bufs[i].len);
    held_for_fin = false;
    return 0;
  }
  int write_last(const uv_buf_t* bufs, unsigned count) override {
    int rc = write(bufs, count);
    held_for_fin = rc == 0; // the bytes wait for the shutdown that follows (TCP: MSG_MORE)
    return rc;
  }
  size_t queued() const override { return queue.size(); }
  int shutdown_write() override {
    if (!queue.empty()) {
      shut_pending = true;
      return 0;
    }
    shut = true;
    return 1;
  }
  void reset() override { was_reset = true; }
  void close() override {}

  // The test's hands: the peer sends, closes, resets; the kernel takes the queue.
  void peer_sends(const std::string& s) { handler_->on_read(*this, s.data(), s.size()); }
  void peer_closes() {
    reading = false;
    handler_->on_eof(*this);
  }
  // The last bytes and the FIN in one read, as a TCP transport reports them after EPOLLRDHUP.
  void peer_sends_and_closes(const std::string& s) {
    eof_follows_ = true;
    handler_->on_read(*this, s.data(), s.size());
    eof_follows_ = false;
    peer_closes();
  }
  void peer_resets() { handler_->on_error(*this, UV_ECONNRESET); }
  void kernel_takes_queue() {
    stuck = false;
    sent += queue;
    queue.clear();
    handler_->on_drained(*this);
    if (shut_pending) {
      shut_pending = false;
      shut = true;
      handler_->on_shut(*this);
    }
  }

  std::string sent, queue;
  bool reading = false, stuck = false, broken = false, shut = false, shut_pending = false;
  bool was_reset = false;
  bool held_for_fin = false; // the last write was write_last()
};

struct Owner final : RelayOwner {
  void on_relay_activity(Direction d, size_t n) override { bytes[static_cast<int>(d)] += n; }
  void on_relay_end(RelayEnd how) override {
    ended = true;
    end = how;
  }
  size_t bytes[2] = {0, 0};
  bool ended = false;
  RelayEnd end = RelayEnd::closed;
};

struct Fixture {
  FakeTransport client, server;
  Owner owner;
  Relay relay{client, server, owner};
};

} // namespace

TEST_CASE("bytes go both ways, in order, and both EOFs end it closed") {
  Fixture f;
  REQUIRE(f.relay.start(false));
  CHECK(f.client.reading);
  CHECK(f.server.reading);
  f.client.peer_sends("GET / HTTP/1.0\r\n");
  f.client.peer_sends("\r\n");
  f.server.peer_sends("HTTP/1.0 200 OK\r\n\r\nhi");
  CHECK(f.server.sent == "GET / HTTP/1.0\r\n\r\n");
  CHECK(f.client.sent == "HTTP/1.0 200 OK\r\n\r\nhi");
  CHECK(f.owner.bytes[0] == 18);
  CHECK(f.owner.bytes[1] == 21);
  f.client.peer_closes(); // half-close: the server's write half is shut, the answer still flows
  CHECK(f.server.shut);
  CHECK_FALSE(f.owner.ended);
  f.server.peer_sends("more");
  CHECK(f.client.sent.ends_with("more"));
  f.server.peer_closes();
  CHECK(f.owner.ended);
  CHECK(f.owner.end == RelayEnd::closed);
}

TEST_CASE("last bytes with the EOF go out with write_last, and the shutdown right after") {
  Fixture f;
  REQUIRE(f.relay.start(false));
  f.server.peer_sends("HTTP/1.0 200 OK\r\n");
  CHECK_FALSE(f.client.held_for_fin); // more may come: sent at once
  f.server.peer_sends_and_closes("\r\nbye");
  CHECK(f.client.sent == "HTTP/1.0 200 OK\r\n\r\nbye");
  CHECK(f.client.held_for_fin);
  CHECK(f.client.shut); // the FIN that takes the held bytes along
  CHECK_FALSE(f.owner.ended);
}

TEST_CASE("a destination above its high mark stops the source until it drains") {
  Fixture f;
  REQUIRE(f.relay.start(false));
  f.server.stuck = true;
  f.client.peer_sends("a");
  CHECK_FALSE(f.client.reading); // backpressure
  CHECK(f.server.reading);       // the other way is not held
  f.server.kernel_takes_queue();
  CHECK(f.client.reading);
  CHECK(f.server.sent == "a");
}

TEST_CASE("an EOF behind queued bytes shuts the write half only after them") {
  Fixture f;
  REQUIRE(f.relay.start(false));
  f.server.stuck = true;
  f.client.peer_sends("last words");
  f.client.peer_closes();
  CHECK_FALSE(f.server.shut);
  f.server.kernel_takes_queue();
  CHECK(f.server.sent == "last words");
  CHECK(f.server.shut);
}

TEST_CASE("bytes read ahead still queued toward the server hold the client's reads") {
  Fixture f;
  f.server.stuck = true;
  uv_buf_t b = uv_buf_init(const_cast<char*>("ahead"), 5);
  f.server.write(&b, 1);
  REQUIRE(f.relay.start(false));
  CHECK_FALSE(f.client.reading);
  f.server.kernel_takes_queue();
  CHECK(f.client.reading);
}

TEST_CASE("a client EOF that came before the relay shuts the server's write half at once") {
  Fixture f;
  REQUIRE(f.relay.start(true));
  CHECK_FALSE(f.client.reading);
  CHECK(f.server.shut);
  f.server.peer_sends("answer");
  CHECK(f.client.sent == "answer");
}

TEST_CASE("a reset ends the relay blaming the side that reset") {
  Fixture f;
  REQUIRE(f.relay.start(false));
  f.server.peer_resets();
  CHECK(f.owner.ended);
  CHECK(f.owner.end == RelayEnd::server_reset);
}

TEST_CASE("a failed write blames the destination") {
  Fixture f;
  REQUIRE(f.relay.start(false));
  f.client.broken = true;
  f.server.peer_sends("x");
  CHECK(f.owner.end == RelayEnd::client_reset);
  CHECK(f.owner.ended);
}
