// The TLS transport against a fake lower transport and an OpenSSL client on memory BIOs: the
// handshake, plaintext both ways, a span read that stops with plaintext still held (delivered at
// the loop's next turn, never inside start_reading), the EOF with and without a close_notify,
// the half-close, a handshake that fails (not TLS, TLS 1.1) with its reason, and tickets sealed
// with the key set a session is given (opened after one rotation, not after two).
#include "net/tls_context.h"
#include "net/tls_transport.h"

#include <cstdio>
#include <doctest/doctest.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace hamba::net;

namespace {

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
  ssize_t read_now(char*, size_t) override { return UV_EAGAIN; }
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

  void peer_sends(const std::string& s) { handler_->on_read(*this, s.data(), s.size()); }
  void peer_closes() { handler_->on_eof(*this); }
  std::string take() { return std::exchange(sent, {}); }

  std::string sent;
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

// A self-signed ECDSA certificate for a.test in two temporary PEM files.
struct TempCert {
  TempCert() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("a.test"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* san =
        X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:a.test,DNS:*.w.test");
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(x, key, EVP_sha256());
    char c[] = "/tmp/hamba-tls-certXXXXXX", k[] = "/tmp/hamba-tls-keyXXXXXX";
    ::close(mkstemp(c));
    ::close(mkstemp(k));
    cert = c;
    key_path = k;
    FILE* f = std::fopen(c, "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen(k, "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
  }
  ~TempCert() {
    ::unlink(cert.c_str());
    ::unlink(key_path.c_str());
  }
  std::string cert, key_path;
};

// An OpenSSL client on memory BIOs.
struct Client {
  explicit Client(int max_version = 0) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (max_version) {
      SSL_CTX_set_min_proto_version(ctx, max_version);
      SSL_CTX_set_max_proto_version(ctx, max_version);
      SSL_CTX_set_security_level(ctx, 0);
    }
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
  explicit Fixture(std::shared_ptr<const TicketKeySet> keys = nullptr) {
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

} // namespace

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
