// What a TLS-terminating frontend presents, built once per configuration on the main loop and
// shared read-only by the workers (OpenSSL's SSL_CTX is safe to make sessions from on any
// thread): its certificates, each with the server names of its SAN, its ALPN list and its
// version floor.
//
//     auto tls = net::TlsServerContext::build({.certs = {{"site.pem", "site.key"}}});
//     SSL* ssl = tls->new_session(); // net/tls_transport.h drives it
//
// A certificate is chosen per handshake by the ClientHello's server name: an exact SAN name
// first, then a wildcard ("*.example.com" for one more label); no name, or no match, gets the
// first one. Every certificate has its own SSL_CTX configured alike, and the server-name
// callback moves the session to the one chosen.
//
// Settings every context has: OpenSSL's default ciphers, TLS 1.2 at least (1.0 and 1.1 never),
// renegotiation off, no server-side session cache (resumption is by tickets, sealed with the
// keys each session is given, net/tls_ticket_keys.h, which a reconfigure keeps) and
// SSL_MODE_RELEASE_BUFFERS (an idle connection holds no record buffers).
#pragma once

#include <memory>
#include <openssl/ssl.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hamba::net {

// A certificate or key that cannot be used; what() names the file and why.
class TlsError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct TlsServerOptions {
  struct Certificate {
    std::string cert; // PEM: the certificate, then its chain
    std::string key;  // PEM: its private key
  };
  std::vector<Certificate> certs; // the first is the default
  std::vector<std::string> alpn;  // in the server's order of preference
  bool tls13_only = false;        // min_version 1.3 (else 1.2)
  // Set: a PEM bundle; every client must present a certificate it verifies.
  std::string client_ca;
};

class TlsServerContext {
public:
  // Loads and checks every certificate (readable, a key that matches it, not expired). Throws
  // TlsError naming the first bad file.
  static std::shared_ptr<const TlsServerContext> build(const TlsServerOptions& options);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // A server session on the default certificate; nullptr when OpenSSL has no memory. The
  // context must outlive it (net/tls_transport.h holds a reference).
  SSL* new_session() const;
  // The certificate for `server_name` (lower case; "" for none): an index into the options'
  // certs.
  size_t pick(std::string_view server_name) const;
  // The SAN DNS names of certificate `i`, lower case, as read from the file.
  const std::vector<std::string>& names(size_t i) const { return entries_[i].names; }

private:
  TlsServerContext() = default;
  static int on_server_name(SSL* ssl, int* alert, void* arg);
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                     const unsigned char* in, unsigned int inlen, void* arg);

  struct Entry {
    SSL_CTX* ctx = nullptr;
    std::vector<std::string> names;
  };
  std::vector<Entry> entries_;
  std::string alpn_wire_; // length-prefixed protocol names, as TLS sends them
};

struct TlsClientOptions {
  std::string verify;      // a PEM CA bundle the server's certificate must chain to, or "none"
  std::string server_name; // sent as SNI, and checked against the certificate when verifying
  std::string cert;        // optional: a client certificate (PEM, with its chain)...
  std::string key;         // ...and its key
};

class TlsClientContext;

// The session of hamba's last TLS connection to one server, offered on the next connect so that
// it resumes (a TLS 1.3 ticket) instead of paying a full handshake. One per server and worker,
// touched only on that worker (engine/worker_frontend.h keeps them); a session is offered only
// with the context that made it (a reconfigure that changes `verify` checks the server again).
class TlsSessionSlot {
public:
  TlsSessionSlot() = default;
  ~TlsSessionSlot();
  TlsSessionSlot(const TlsSessionSlot&) = delete;
  TlsSessionSlot& operator=(const TlsSessionSlot&) = delete;
  // The session to offer with `context`, or nullptr.
  SSL_SESSION* session_for(const TlsClientContext* context) const;
  // Keeps a copy of `session` (made with `context`), in place of the one before.
  void keep(const TlsClientContext* context, const SSL_SESSION* session);

private:
  SSL_SESSION* session_ = nullptr;
  const TlsClientContext* context_ = nullptr;
};

// What hamba presents and checks when it connects to servers with TLS (a backend's
// server_tls), built like TlsServerContext on the main loop and shared read-only. Its sessions
// resume from a TlsSessionSlot (TlsTransport::resume_from).
class TlsClientContext {
public:
  // Throws TlsError naming the bad file.
  static std::shared_ptr<const TlsClientContext> build(const TlsClientOptions& options);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;
  // A client session with the server name set; nullptr when OpenSSL has no memory.
  SSL* new_session() const;
  // Makes `ssl` (from new_session()) offer the session `slot` holds, and keep there the one its
  // server gives (the slot must outlive `ssl`).
  void resume_from(SSL* ssl, TlsSessionSlot* slot) const;

private:
  TlsClientContext() = default;
  static int on_new_session(SSL* ssl, SSL_SESSION* session);
  SSL_CTX* ctx_ = nullptr;
  std::string server_name_;
  bool verify_ = false;
};

// Whether `name` (lower case) matches the SAN entry `pattern`: equal, or "*.suffix" for
// exactly one more label.
bool tls_name_matches(std::string_view pattern, std::string_view name);

} // namespace hamba::net
