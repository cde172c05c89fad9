// Test helpers for the TLS transport: a fake lower transport, the events a handler sees, a
// temporary certificate, an OpenSSL client on memory BIOs, and a fixture joining them to a
// server-side TlsTransport (tests/unit/hamba_net_tls_*.cpp).
#pragma once

#include "net/tls_context.h"
#include "net/tls_transport.h"
#include "temp_cert.h"

#include <algorithm>
#include <cstdio>
#include <doctest/doctest.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string>
#include <unistd.h>
#include <utility>

namespace hamba::test {

using namespace hamba::net;

// The lower transport: what the server writes lands in `sent`; the test feeds what the client
// sends through peer_sends.
class FakeLower final : public Transport {
public:
  int start_reading() override {
    reading = true;
    return 0;
  }
  int read_into(char*, size_t) override { return start_reading(); }
  void stop_reading() override { reading = false; }
  // What the kernel holds for read_now (`readable`), without a read event.
  ssize_t read_now(char* into, size_t size) override {
    if (readable.empty())
      return UV_EAGAIN;
    size_t n = std::min(size, readable.size());
    readable.copy(into, n);
    readable.erase(0, n);
    return static_cast<ssize_t>(n);
  }
  int write(const uv_buf_t* bufs, unsigned count) override {
    for (unsigned i = 0; i < count; ++i)
      sent.append(bufs[i].base, bufs[i].len);
    return 0;
  }
  size_t queued() const override { return 0; }
  int shutdown_write() override {
    shut = true;
    return 1;
  }
  void reset() override { closed = true; }
  void close() override { closed = true; }

  // As a socket read would: from a buffer of the reader's (the loop's read buffer), which the
  // TLS transport may open records in, in place.
  void peer_sends(const std::string& s) {
    wire = s;
    handler_->on_read(*this, wire.data(), wire.size());
  }
  void peer_closes() { handler_->on_eof(*this); }
  std::string take() { return std::exchange(sent, {}); }

  std::string sent, wire, readable;
  bool reading = false, shut = false, closed = false;
};

// What the TLS transport tells its user.
struct Events final : TransportHandler {
  void on_read(Transport&, const char* data, size_t len) override { plain.append(data, len); }
  void on_eof(Transport&) override { eof = true; }
  void on_error(Transport&, int e) override { error = e; }
  void on_drained(Transport&) override {}
  void on_shut(Transport&) override { shut = true; }
  void on_connected(Transport&, int status) override { connected = status == 0; }
  std::string plain;
  bool eof = false, shut = false, connected = false;
  int error = 0;
};

// An OpenSSL client on memory BIOs.
struct Client {
  // `version`: only that one; `ciphers`: only those (TLS 1.2 names, or 1.3 suites).
  explicit Client(int version = 0, const char* ciphers = nullptr) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (version) {
      SSL_CTX_set_min_proto_version(ctx, version);
      SSL_CTX_set_max_proto_version(ctx, version);
      SSL_CTX_set_security_level(ctx, 0);
    }
    if (ciphers && version == TLS1_3_VERSION)
      SSL_CTX_set_ciphersuites(ctx, ciphers);
    else if (ciphers)
      SSL_CTX_set_cipher_list(ctx, ciphers);
    ssl = SSL_new(ctx);
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    static char name[] = "a.test";
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name);
    SSL_set_connect_state(ssl);
  }
  ~Client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  std::string pending() {
    std::string s(BIO_ctrl_pending(out), '\0');
    if (!s.empty())
      BIO_read(out, s.data(), static_cast<int>(s.size()));
    return s;
  }
  void receive(const std::string& s) {
    if (!s.empty())
      BIO_write(in, s.data(), static_cast<int>(s.size()));
  }
  int step() { return SSL_do_handshake(ssl); }
  void send(const std::string& s) { SSL_write(ssl, s.data(), static_cast<int>(s.size())); }
  std::string read() {
    std::string got;
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0)
      got.append(buf, static_cast<size_t>(n));
    return got;
  }
  SSL_CTX* ctx;
  SSL* ssl;
  BIO *in, *out;
};

struct Fixture {
  explicit Fixture(std::shared_ptr<const TicketKeySet> keys = nullptr, int version = 0,
                   const char* ciphers = nullptr)
      : client(version, ciphers) {
    uv_loop_init(&loop);
    context = TlsServerContext::build({.certs = {{cert.cert, cert.key_path}}, .alpn = {}});
    tls = std::make_unique<TlsTransport>(lower, context, &loop, std::move(keys));
    tls->set_handler(&events);
    REQUIRE(tls->start_handshake() == 0);
  }
  ~Fixture() {
    tls->close();
    tls.reset();
    uv_run(&loop, UV_RUN_NOWAIT); // the deferred-delivery timer's close
    uv_loop_close(&loop);
  }
  // Both sides' flights back and forth until the client is done.
  void handshake() {
    for (int i = 0; i < 10 && client.step() != 1; ++i) {
      lower.peer_sends(client.pending());
      client.receive(lower.take());
    }
    lower.peer_sends(client.pending()); // the client's Finished
    client.receive(lower.take());       // tickets
  }
  void run_loop() { uv_run(&loop, UV_RUN_NOWAIT); }

  static inline TempCert cert;
  uv_loop_t loop;
  FakeLower lower;
  Events events;
  Client client;
  std::shared_ptr<const TlsServerContext> context;
  std::unique_ptr<TlsTransport> tls;
};

} // namespace hamba::test
