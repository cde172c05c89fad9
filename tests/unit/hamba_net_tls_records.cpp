// hamba's record layer after the handshake (net/tls_records.h, net/tls_handover.h), against a
// real OpenSSL client on memory BIOs: the switch from OpenSSL for each AEAD suite of TLS 1.3
// and 1.2 (a CBC suite stays on OpenSSL), data both ways in one record and in many, bytes that
// came with the client's Finished, a record split byte by byte, a client KeyUpdate asking for
// ours, a TLS 1.2 renegotiation refused, a flipped bit (an error, nothing delivered), the facts
// kept for the log, and the record layer alone (seal, open, every header refused).
#include "net/tls_records.h"
#include "tls_fixture.h"

#include <cstring>

using namespace hamba::net;
using namespace hamba::test;

namespace {

// A handshake whose last flight (the client's Finished) carries `with_finished` too.
void handshake_with_data(Fixture& f, const std::string& with_finished) {
  for (int i = 0; i < 10 && f.client.step() != 1; ++i) {
    f.lower.peer_sends(f.client.pending());
    f.client.receive(f.lower.take());
  }
  if (!with_finished.empty())
    f.client.send(with_finished);
  f.lower.peer_sends(f.client.pending());
  f.client.receive(f.lower.take());
}

std::string pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>(seed + i * 7 + i / 251);
  return s;
}

// Plaintext both ways: a short write, then `big` bytes each way (many records in one read).
void both_ways(Fixture& f, size_t big) {
  REQUIRE(f.tls->start_reading() == 0);
  f.run_loop();
  f.events.plain.clear();
  f.client.send("ping");
  f.lower.peer_sends(f.client.pending());
  CHECK(f.events.plain == "ping");
  uv_buf_t b = uv_buf_init(const_cast<char*>("pong"), 4);
  REQUIRE(f.tls->write(&b, 1) == 0);
  f.client.receive(f.lower.take());
  CHECK(f.client.read() == "pong");

  std::string up = pattern(big, 'a'), down = pattern(big, 'z');
  f.events.plain.clear();
  f.client.send(up);
  f.lower.peer_sends(f.client.pending());
  CHECK(f.events.plain == up);
  uv_buf_t d = uv_buf_init(down.data(), static_cast<unsigned>(down.size()));
  REQUIRE(f.tls->write(&d, 1) == 0);
  f.client.receive(f.lower.take());
  CHECK(f.client.read() == down);
  CHECK(f.events.error == 0);
}

struct Suite {
  int version;
  const char* ciphers;
  const char* name; // as OpenSSL names it
};

} // namespace

TEST_CASE("each AEAD suite leaves OpenSSL after the handshake; data goes both ways") {
  const Suite suites[] = {
      {TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"},
      {TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"},
      {TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
      {TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
      {TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
      {TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
  };
  for (const Suite& s : suites) {
    for (bool tickets : {true, false}) { // TLS 1.3: two tickets sent under the new key, or none
      CAPTURE(s.name);
      CAPTURE(tickets);
      Fixture f(tickets ? TicketKeySet::make() : nullptr, s.version, s.ciphers);
      handshake_with_data(f, "came with the Finished");
      REQUIRE(f.events.connected);
      CHECK(f.tls->own_records());
      CHECK(std::string(f.tls->cipher()) == s.name);
      CHECK(std::string(f.tls->version()) == (s.version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"));
      CHECK(f.tls->server_name() == "a.test");
      CHECK_FALSE(f.tls->resumed());
      REQUIRE(f.tls->start_reading() == 0);
      f.run_loop();
      CHECK(f.events.plain == "came with the Finished");
      both_ways(f, 100000);
    }
  }
}

TEST_CASE("a CBC suite keeps OpenSSL's record layer, and works") {
  Fixture f(nullptr, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256");
  f.handshake();
  REQUIRE(f.events.connected);
  CHECK_FALSE(f.tls->own_records());
  both_ways(f, 50000);
}

TEST_CASE("a record split byte by byte is opened once whole") {
  Fixture f;
  f.handshake();
  REQUIRE(f.tls->own_records());
  REQUIRE(f.tls->start_reading() == 0);
  f.client.send("split");
  f.client.send(" in two records");
  std::string wire = f.client.pending();
  size_t first = kTlsHeader + (size_t(uint8_t(wire[3])) << 8 | uint8_t(wire[4]));
  for (size_t i = 0; i < wire.size(); ++i) {
    f.lower.peer_sends(wire.substr(i, 1));
    if (i + 1 < first)
      CHECK(f.events.plain.empty()); // nothing before the first record's tag
  }
  CHECK(f.events.plain == "split in two records");
  CHECK(f.events.error == 0);
}

TEST_CASE("three records cut anywhere in two reads: all of it, in order") {
  Fixture f;
  f.handshake();
  REQUIRE(f.tls->own_records());
  REQUIRE(f.tls->start_reading() == 0);
  f.client.send("one ");
  f.client.send("two ");
  f.client.send("three");
  std::string wire = f.client.pending();
  for (size_t cut = 1; cut < wire.size(); ++cut) {
    CAPTURE(cut);
    // The same three records again, sealed anew (the sequence numbers move on).
    f.lower.peer_sends(wire.substr(0, cut));
    f.lower.peer_sends(wire.substr(cut));
    CHECK(f.events.plain == "one two three");
    f.events.plain.clear();
    f.client.send("one ");
    f.client.send("two ");
    f.client.send("three");
    wire = f.client.pending();
  }
  CHECK(f.events.error == 0);
}

TEST_CASE("a reader that stops with records held: the socket waits until they are delivered") {
  Fixture f;
  f.handshake();
  REQUIRE(f.tls->own_records());
  char span[3];
  REQUIRE(f.tls->read_into(span, sizeof span) == 0);
  f.client.send("abcdef");
  f.client.send("ghi");
  f.lower.peer_sends(f.client.pending());
  CHECK(f.events.plain == "abc"); // the span is full: it stopped
  CHECK_FALSE(f.lower.reading);
  REQUIRE(f.tls->start_reading() == 0);
  CHECK_FALSE(f.lower.reading); // what is held goes first, at the next turn
  f.run_loop();
  CHECK(f.events.plain == "abcdefghi");
  CHECK(f.lower.reading);
}

TEST_CASE("read_now opens what the socket holds, a partial record waiting for the rest") {
  Fixture f;
  f.handshake();
  REQUIRE(f.tls->own_records());
  char buf[64];
  CHECK(f.tls->read_now(buf, sizeof buf) == UV_EAGAIN);
  f.client.send("first bytes");
  std::string wire = f.client.pending();
  f.lower.readable = wire.substr(0, 9);
  CHECK(f.tls->read_now(buf, sizeof buf) == UV_EAGAIN);
  f.lower.readable = wire.substr(9);
  REQUIRE(f.tls->read_now(buf, 5) == 5);
  CHECK(std::string(buf, 5) == "first");
  REQUIRE(f.tls->read_now(buf, sizeof buf) == 6);
  CHECK(std::string(buf, 6) == " bytes");
  // Then the usual reads go on from there.
  REQUIRE(f.tls->start_reading() == 0);
  f.client.send("more");
  f.lower.peer_sends(f.client.pending());
  f.run_loop();
  CHECK(f.events.plain == "more");
}

TEST_CASE("a client KeyUpdate asking for ours: both keys move on, data goes both ways") {
  Fixture f(TicketKeySet::make());
  f.handshake();
  REQUIRE(f.tls->own_records());
  REQUIRE(f.tls->start_reading() == 0);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(SSL_key_update(f.client.ssl, SSL_KEY_UPDATE_REQUESTED) == 1);
    f.client.send("after the update");
    f.lower.peer_sends(f.client.pending());
    CHECK(f.events.plain == "after the update");
    f.events.plain.clear();
    uv_buf_t b = uv_buf_init(const_cast<char*>("answer"), 6);
    REQUIRE(f.tls->write(&b, 1) == 0);
    f.client.receive(f.lower.take()); // our KeyUpdate, then the answer under the new key
    CHECK(f.client.read() == "answer");
    f.client.send("and again");
    f.lower.peer_sends(f.client.pending());
    CHECK(f.events.plain == "and again");
    f.events.plain.clear();
  }
  CHECK(f.events.error == 0);
  // One not asking for ours: only the read key moves.
  REQUIRE(SSL_key_update(f.client.ssl, SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
  f.client.send("x");
  f.lower.peer_sends(f.client.pending());
  CHECK(f.events.plain == "x");
  CHECK(f.lower.take().empty());
}

TEST_CASE("TLS 1.2: a renegotiation is refused with a warning, as OpenSSL does, and data goes on") {
  Fixture f(nullptr, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256");
  f.handshake();
  REQUIRE(f.tls->own_records());
  REQUIRE(f.tls->start_reading() == 0);
  f.client.send("before");
  REQUIRE(SSL_renegotiate(f.client.ssl) == 1);
  f.client.step(); // its ClientHello, under the session's keys
  f.lower.peer_sends(f.client.pending());
  CHECK(f.events.plain == "before");
  CHECK(f.events.error == 0);
  std::string answer = f.lower.take();
  REQUIRE(answer.size() > kTlsHeader);
  CHECK(uint8_t(answer[0]) == kTlsAlert); // no_renegotiation, a warning
  uv_buf_t b = uv_buf_init(const_cast<char*>("after"), 5);
  REQUIRE(f.tls->write(&b, 1) == 0);
  CHECK(f.lower.take().size() > kTlsHeader);
}

TEST_CASE("a flipped bit is an error, and nothing of the record is delivered") {
  for (size_t at : {0u, 3u, 4u, 5u, 12u}) { // type, length (longer, shorter), ciphertext, tag
    CAPTURE(at);
    Fixture f;
    f.handshake();
    REQUIRE(f.tls->own_records());
    REQUIRE(f.tls->start_reading() == 0);
    f.client.send("secret");
    std::string wire = f.client.pending();
    size_t i = at == 12 ? wire.size() - 3 : at;
    wire[i] = static_cast<char>(wire[i] ^ 1);
    uint64_t errors = tls_record_errors();
    f.lower.peer_sends(wire);
    if (at == 3) { // 256 bytes longer: a partial record, until the FIN
      CHECK(f.events.error == 0);
      continue;
    }
    CHECK(f.events.error == UV_EPROTO);
    CHECK(f.events.plain.empty());
    CHECK(tls_record_errors() == errors + 1);
    CHECK_FALSE(f.lower.reading);
  }
}

TEST_CASE("after the switch: close_notify and shutdown_write") {
  Fixture f;
  f.handshake();
  REQUIRE(f.tls->own_records());
  REQUIRE(f.tls->start_reading() == 0);
  f.client.send("last");
  SSL_shutdown(f.client.ssl);
  f.lower.peer_sends(f.client.pending() + "\x17\x03\x03\x00\x01x"); // not read
  CHECK(f.events.plain == "last");
  CHECK(f.events.eof);
  CHECK(f.tls->shutdown_write() == 1);
  f.client.receive(f.lower.take());
  char c;
  CHECK(SSL_read(f.client.ssl, &c, 1) == 0);
  CHECK(SSL_get_error(f.client.ssl, 0) == SSL_ERROR_ZERO_RETURN);
}

TEST_CASE("the record layer alone: sealed records open, any header but its own is refused") {
  uint8_t secret[32], key[16], iv[4];
  std::memset(secret, 1, sizeof secret);
  std::memset(key, 2, sizeof key);
  std::memset(iv, 3, sizeof iv);
  for (uint16_t version : {0x0304, 0x0303}) {
    CAPTURE(version);
    TlsRecords::Keys k{.secret = secret, .key = key, .iv = iv};
    auto a = TlsRecords::make(TlsAead::aes_128_gcm, version, k, k);
    auto b = TlsRecords::make(TlsAead::aes_128_gcm, version, k, k);
    REQUIRE((a && b));
    std::vector<uint8_t> rec(kTlsMaxPlaintext + kTlsSealOverhead);
    std::string big = pattern(kTlsMaxPlaintext, 'q');
    size_t n = a->seal(kTlsApplicationData, reinterpret_cast<const uint8_t*>(big.data()),
                       big.size(), rec.data());
    REQUIRE(n > 0);
    CHECK(b->record_size(rec.data(), 4) == 0);
    CHECK(b->record_size(rec.data(), n) == long(n));
    TlsRecords::Opened o;
    REQUIRE(b->open(rec.data(), n, &o));
    CHECK(std::string(reinterpret_cast<char*>(o.data), o.len) == big);
    CHECK(o.type == kTlsApplicationData);
    // The same record again: the sequence number moved on, so it no longer authenticates.
    n = a->seal(kTlsApplicationData, reinterpret_cast<const uint8_t*>("x"), 1, rec.data());
    std::vector<uint8_t> copy(rec.begin(), rec.begin() + long(n));
    REQUIRE(b->open(rec.data(), n, &o));
    CHECK_FALSE(b->open(copy.data(), n, &o));
    uint8_t bad_type[] = {99, 3, 3, 0, 20}, bad_version[] = {23, 2, 0, 0, 20},
            too_long[] = {23, 3, 3, 0x48, 1};
    CHECK(b->record_size(bad_type, 5) == -1);
    CHECK(b->record_size(bad_version, 5) == -1);
    CHECK(b->record_size(too_long, 5) == -1);
  }
}
