// The TLS transport against a fake lower transport and an OpenSSL client on memory BIOs: the
// handshake, plaintext both ways, a span read that stops with plaintext still held (delivered at
// the loop's next turn, never inside start_reading), the EOF with and without a close_notify,
// the half-close, a handshake that fails (not TLS, TLS 1.1) with its reason, and tickets sealed
// with the key set a session is given (opened after one rotation, not after two).
#include "tls_fixture.h"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <string>
#include <vector>

using namespace hamba::net;
using namespace hamba::test;

TEST_CASE("the handshake finishes, the server name is seen, plaintext goes both ways") {
  Fixture f;
  CHECK(f.lower.reading);
  f.handshake();
  CHECK(f.events.connected);
  CHECK(f.tls->established());
  CHECK(f.tls->server_name() == "a.test");
  CHECK_FALSE(f.lower.reading); // nobody reads the TLS transport yet

  f.client.send("hello");
  f.lower.peer_sends(f.client.pending());
  CHECK(f.events.plain.empty()); // held until it is read
  REQUIRE(f.tls->start_reading() == 0);
  CHECK(f.events.plain.empty()); // never inside start_reading
  f.run_loop();
  CHECK(f.events.plain == "hello");

  uv_buf_t b = uv_buf_init(const_cast<char*>("world"), 5);
  REQUIRE(f.tls->write(&b, 1) == 0);
  f.client.receive(f.lower.take());
  CHECK(f.client.read() == "world");
}

TEST_CASE("a full span stops reading; the rest comes at the next turn once it reads again") {
  Fixture f;
  f.handshake();
  char span[4];
  REQUIRE(f.tls->read_into(span, sizeof span) == 0);
  f.client.send("0123456789");
  f.lower.peer_sends(f.client.pending());
  // One span's worth, then it stopped (the handler did not give another).
  CHECK(f.events.plain == "0123");
  CHECK_FALSE(f.lower.reading);
  REQUIRE(f.tls->start_reading() == 0);
  CHECK(f.events.plain == "0123");
  f.run_loop();
  CHECK(f.events.plain == "0123456789");
}

// A handshake under `keys`, offering `session` (nullptr: none); whether it resumed, and the
// session the client holds after its tickets (the caller frees it).
std::pair<bool, SSL_SESSION*> handshake_with(std::shared_ptr<const TicketKeySet> keys,
                                             SSL_SESSION* session) {
  Fixture f(std::move(keys));
  if (session)
    SSL_set_session(f.client.ssl, session);
  f.handshake();
  CHECK(f.events.connected);
  f.client.read(); // takes the tickets
  // A clean end: SSL_free would otherwise mark the session not resumable.
  SSL_set_shutdown(f.client.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  return {SSL_session_reused(f.client.ssl) == 1, SSL_get1_session(f.client.ssl)};
}

TEST_CASE("tickets: sealed with the session's key set, opened after one rotation, not two") {
  auto keys = TicketKeySet::make();
  auto [reused, ticket] = handshake_with(keys, nullptr);
  CHECK_FALSE(reused);
  REQUIRE(SSL_SESSION_is_resumable(ticket) == 1);
  auto [again, renewed] = handshake_with(keys, ticket);
  CHECK(again);
  auto rotated = keys->rotated();
  auto [after_one, t1] = handshake_with(rotated, ticket);
  CHECK(after_one); // the key before the sealing one still opens
  auto [after_two, t2] = handshake_with(rotated->rotated(), ticket);
  CHECK_FALSE(after_two); // a full handshake
  // Without a key set no ticket is issued.
  auto [none, no_ticket] = handshake_with(nullptr, nullptr);
  CHECK_FALSE(none);
  CHECK(SSL_SESSION_is_resumable(no_ticket) == 0);
  for (SSL_SESSION* s : {ticket, renewed, t1, t2, no_ticket})
    SSL_SESSION_free(s);
}

TEST_CASE("a close_notify is an EOF; so is the FIN without one") {
  SUBCASE("close_notify") {
    Fixture f;
    f.handshake();
    REQUIRE(f.tls->start_reading() == 0);
    f.client.send("last");
    SSL_shutdown(f.client.ssl);
    f.lower.peer_sends(f.client.pending());
    CHECK(f.events.plain == "last");
    CHECK(f.events.eof);
  }
  SUBCASE("FIN alone") {
    Fixture f;
    f.handshake();
    REQUIRE(f.tls->start_reading() == 0);
    f.client.send("last");
    f.lower.peer_sends(f.client.pending());
    f.lower.peer_closes();
    CHECK(f.events.plain == "last");
    CHECK(f.events.eof);
  }
}

TEST_CASE("shutdown_write sends a close_notify, then shuts the lower write half") {
  Fixture f;
  f.handshake();
  CHECK(f.tls->shutdown_write() == 1);
  CHECK(f.lower.shut);
  f.client.receive(f.lower.take());
  char c;
  CHECK(SSL_read(f.client.ssl, &c, 1) == 0);
  CHECK(SSL_get_error(f.client.ssl, 0) == SSL_ERROR_ZERO_RETURN);
}

TEST_CASE("a failed handshake says why") {
  SUBCASE("not TLS") {
    Fixture f;
    f.lower.peer_sends("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(f.events.error == UV_EPROTO);
    CHECK(f.tls->failure() == TlsFailure::version);
    CHECK_FALSE(f.lower.reading);
  }
  SUBCASE("TLS 1.1") {
    Fixture f;
    Client old(TLS1_1_VERSION);
    old.step();
    f.lower.peer_sends(old.pending());
    CHECK(f.events.error == UV_EPROTO);
    CHECK(f.tls->failure() == TlsFailure::version);
    // The alert went out before the failure was reported.
    CHECK_FALSE(f.lower.sent.empty());
  }
  SUBCASE("the client closes halfway") {
    Fixture f;
    f.client.step();
    std::string first = f.client.pending();
    f.lower.peer_sends(first.substr(0, 10));
    f.lower.peer_closes();
    CHECK(f.events.error == UV_EPROTO);
    CHECK(f.tls->failure() == TlsFailure::closed);
    CHECK(f.tls->heard());
  }
  ERR_clear_error();
}

TEST_CASE("certificates are picked by SAN name: exact, then one-label wildcard, else the first") {
  Fixture f;
  CHECK(f.context->names(0) == std::vector<std::string>{"a.test", "*.w.test"});
  CHECK(tls_name_matches("*.w.test", "x.w.test"));
  CHECK_FALSE(tls_name_matches("*.w.test", "x.y.w.test"));
  CHECK_FALSE(tls_name_matches("*.w.test", "w.test"));
  CHECK(f.context->pick("") == 0);
}

TEST_CASE("a bad certificate or key names its file") {
  Fixture f;
  auto message = [](const TlsServerOptions& o) {
    try {
      TlsServerContext::build(o);
    } catch (const TlsError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(message({.certs = {{"/nonexistent.pem", Fixture::cert.key_path}}})
            .find("/nonexistent.pem: cannot read") != std::string::npos);
  CHECK(message({.certs = {{Fixture::cert.key_path, Fixture::cert.key_path}}})
            .find(Fixture::cert.key_path + ": not a PEM certificate") != std::string::npos);
  CHECK(message({.certs = {{Fixture::cert.cert, Fixture::cert.cert}}})
            .find(Fixture::cert.cert + ": not a PEM private key") != std::string::npos);
}
