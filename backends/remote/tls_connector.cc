// TLS connections to Redis: the SSL_CTX, the handshake with verification,
// and the transport over SSL_read/SSL_write (tls_connector.h).
#include "backends/remote/tls_connector.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

namespace kvtier::internal {
namespace {

// ---- a socket BIO that never raises SIGPIPE ---------------------------------
// OpenSSL's own socket BIO writes with write(2); a peer that has gone would
// kill the process with SIGPIPE. This one sends with MSG_NOSIGNAL.

int FdOf(BIO* bio) {
  return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
}

int SocketWrite(BIO* bio, const char* data, int n) {
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t r = send(FdOf(bio), data, static_cast<size_t>(n), MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(bio);
    return static_cast<int>(r);
  }
}

int SocketRead(BIO* bio, char* data, int n) {
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t r = recv(FdOf(bio), data, static_cast<size_t>(n), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(bio);
    return static_cast<int>(r);
  }
}

long SocketCtrl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* NoSigpipeSocket() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                     "kvtier socket");
    BIO_meth_set_write(m, SocketWrite);
    BIO_meth_set_read(m, SocketRead);
    BIO_meth_set_ctrl(m, SocketCtrl);
    return m;
  }();
  return method;
}

// ---- failures ---------------------------------------------------------------

// Everything on this thread's OpenSSL error queue, which is then empty.
std::string DrainErrors() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    text += (text.empty() ? "" : "; ") + std::string(buf);
  }
  return text;
}

// Alerts a server sends when it does not accept the client's certificate
// (or the lack of one).
bool RefusedOurCertificate(int reason) {
  switch (reason) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
      return true;
    default:
      return false;
  }
}

// What a connection learned during its handshake; SSL_get_app_data points
// here while the SSL lives.
struct HandshakeNotes {
  bool certificate_requested = false;  // the server asked for ours, and we have none
};

// Called by OpenSSL when the server asks for a client certificate and none
// is configured: noted, and the handshake goes on without one (the server
// decides). A server that requires one may then just reset the connection
// (Redis does) instead of sending an alert the client gets to read.
int NoteCertificateRequest(SSL* ssl, X509**, EVP_PKEY**) {
  static_cast<HandshakeNotes*>(SSL_get_app_data(ssl))->certificate_requested = true;
  return 0;
}

class TlsFailures {
 public:
  TlsFailures(const RedisEndpoint& endpoint, const RedisTlsConfig& tls,
              std::string checked_name)
      : where_("redis " + endpoint.ToString()),
        tls_(tls),
        checked_name_(std::move(checked_name)) {}

  // The status of an SSL call that returned `ret`. A certificate that does
  // not verify, either way, is InvalidArgument naming the option to fix;
  // anything else (timeouts, resets, the server closing) is Unavailable.
  Status Of(SSL* ssl, int ret, const char* what) const {
    const int saved_errno = errno;
    const int kind = SSL_get_error(ssl, ret);
    const int reason = ERR_GET_REASON(ERR_peek_last_error());
    const std::string text = DrainErrors();
    if (kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE) {
      return Unavailable(where_ + ": TLS " + what + ": timed out");
    }
    const long verify = SSL_get_verify_result(ssl);
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
      return Unverified(verify);
    }
    const std::string detail = !text.empty() ? text
                               : saved_errno > 0
                                   ? std::string(std::strerror(saved_errno))
                                   : std::string("the server closed the connection");
    const auto* notes = static_cast<const HandshakeNotes*>(SSL_get_app_data(ssl));
    if (tls_.cert_file.empty() &&
        (RefusedOurCertificate(reason) || notes->certificate_requested)) {
      return InvalidArgument("options.remote.tls_cert_file: " + where_ +
                             " asked for a client certificate and refused the "
                             "connection without one (it requires mutual TLS: set "
                             "tls_cert_file and tls_key_file): " +
                             detail);
    }
    if (RefusedOurCertificate(reason)) {
      return InvalidArgument("options.remote.tls_cert_file: " + where_ +
                             " refused the certificate '" + tls_.cert_file +
                             "': " + detail);
    }
    if (kind == SSL_ERROR_SYSCALL && text.empty()) {
      return saved_errno == 0 ? Unavailable(where_ + ": " + detail)
                              : SocketFailure(where_ + ": TLS " + what, saved_errno);
    }
    if (kind == SSL_ERROR_ZERO_RETURN) {
      return Unavailable(where_ + ": the server closed the TLS connection");
    }
    return Unavailable(where_ + ": TLS " + what + ": " + text);
  }

 private:
  Status Unverified(long verify) const {
    const std::string why = X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH ||
        verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return InvalidArgument("options.remote.tls_server_name: " + where_ +
                             "'s certificate is not for '" + checked_name_ + "' (" + why +
                             "); set tls_server_name to a name it carries");
    }
    const std::string ca = !tls_.ca_file.empty() ? "tls_ca_file '" + tls_.ca_file + "'"
                                                 : "tls_ca_dir '" + tls_.ca_dir + "'";
    return InvalidArgument("options.remote.tls_ca_file: " + where_ +
                           "'s certificate does not verify against " + ca + ": " + why);
  }

  const std::string where_;
  const RedisTlsConfig& tls_;
  const std::string checked_name_;
};

// ---- the transport ----------------------------------------------------------

struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

class TlsTransport final : public RespTransport {
 public:
  // `fd` outlives `ssl` (members die in reverse order); `notes` is ssl's app data.
  TlsTransport(OwnedFd fd, std::unique_ptr<HandshakeNotes> notes, SslPtr ssl,
               TlsFailures failures)
      : fd_(std::move(fd)),
        notes_(std::move(notes)),
        ssl_(std::move(ssl)),
        failures_(std::move(failures)) {}

  // Piece by piece: each SSL_write encrypts from the caller's memory.
  Status WriteAll(std::span<iovec> pieces) override {
    for (const iovec& p : pieces) {
      if (p.iov_len == 0) continue;
      ERR_clear_error();
      size_t written = 0;
      const int ret = SSL_write_ex(ssl_.get(), p.iov_base, p.iov_len, &written);
      if (ret != 1) return failures_.Of(ssl_.get(), ret, "write");
    }
    return Status::Ok();
  }

  Status ReadSome(std::byte* dst, size_t n, size_t* got) override {
    ERR_clear_error();
    const int ret = SSL_read_ex(ssl_.get(), dst, n, got);
    return ret == 1 ? Status::Ok() : failures_.Of(ssl_.get(), ret, "read");
  }

 private:
  OwnedFd fd_;
  std::unique_ptr<HandshakeNotes> notes_;
  SslPtr ssl_;
  TlsFailures failures_;
};

// ---- the context ------------------------------------------------------------

Status Readable(const std::string& path, const char* field, bool directory) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  const bool kind_ok = directory ? std::filesystem::is_directory(status)
                                 : std::filesystem::is_regular_file(status);
  if (ec || !kind_ok) {
    return InvalidArgument(std::string(field) + ": '" + path + "' is not " +
                           (directory ? "a directory" : "a file"));
  }
  if (access(path.c_str(), directory ? R_OK | X_OK : R_OK) != 0) {
    return InvalidArgument(std::string(field) + ": cannot read '" + path + "'");
  }
  return Status::Ok();
}

Status CheckFiles(const RedisTlsConfig& tls) {
  if (!tls.ca_file.empty()) {
    if (Status s = Readable(tls.ca_file, "options.remote.tls_ca_file", false); !s.ok())
      return s;
  }
  if (!tls.ca_dir.empty()) {
    if (Status s = Readable(tls.ca_dir, "options.remote.tls_ca_dir", true); !s.ok())
      return s;
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return InvalidArgument(
        tls.cert_file.empty()
            ? "options.remote.tls_cert_file: empty, but tls_key_file is set (mutual TLS "
              "needs both)"
            : "options.remote.tls_key_file: empty, but tls_cert_file is set (mutual TLS "
              "needs both)");
  }
  if (!tls.cert_file.empty()) {
    if (Status s = Readable(tls.cert_file, "options.remote.tls_cert_file", false);
        !s.ok())
      return s;
    if (Status s = Readable(tls.key_file, "options.remote.tls_key_file", false); !s.ok())
      return s;
  }
  return Status::Ok();
}

// No passphrase prompt on the terminal: an encrypted key fails to load.
int NoPassphrase(char*, int, int, void*) { return 0; }

Status LoadFiles(SSL_CTX* ctx, const RedisTlsConfig& tls) {
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(
          ctx, tls.ca_file.empty() ? nullptr : tls.ca_file.c_str(),
          tls.ca_dir.empty() ? nullptr : tls.ca_dir.c_str()) != 1) {
    return InvalidArgument(std::string(tls.ca_file.empty()
                                           ? "options.remote.tls_ca_dir"
                                           : "options.remote.tls_ca_file") +
                           ": holds no usable PEM CA certificate: " + DrainErrors());
  }
  if (tls.cert_file.empty()) {
    SSL_CTX_set_client_cert_cb(ctx, NoteCertificateRequest);
    return Status::Ok();
  }
  SSL_CTX_set_default_passwd_cb(ctx, NoPassphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    return InvalidArgument("options.remote.tls_cert_file: '" + tls.cert_file +
                           "' holds no usable PEM certificate: " + DrainErrors());
  }
  // OpenSSL checks the key against the certificate as it loads it.
  const bool loaded =
      SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  const unsigned long error = ERR_peek_last_error();
  const bool mismatch = ERR_GET_LIB(error) == ERR_LIB_X509 &&
                        ERR_GET_REASON(error) == X509_R_KEY_VALUES_MISMATCH;
  if (!loaded && !mismatch) {
    return InvalidArgument(
        "options.remote.tls_key_file: '" + tls.key_file +
        "' holds no usable unencrypted PEM private key: " + DrainErrors());
  }
  if (!loaded || SSL_CTX_check_private_key(ctx) != 1) {
    return InvalidArgument("options.remote.tls_key_file: '" + tls.key_file +
                           "' is not the key of tls_cert_file '" + tls.cert_file +
                           "': " + DrainErrors());
  }
  return Status::Ok();
}

bool IsIpAddress(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

Result<std::unique_ptr<TlsConnector>> TlsConnector::Create(const RedisTlsConfig& tls) {
  if (Status s = CheckFiles(tls); !s.ok()) return s;
  ContextPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Internal("redis TLS: cannot create an SSL_CTX: " + DrainErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // Read ahead: one recv takes several records of a 1 MiB reply, not one
  // record header and body at a time.
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  SSL_CTX_set_default_read_buffer_len(ctx.get(), 64 << 10);
  if (Status s = LoadFiles(ctx.get(), tls); !s.ok()) return s;
  return std::unique_ptr<TlsConnector>(new TlsConnector(std::move(ctx), tls));
}

Result<std::unique_ptr<RespTransport>> TlsConnector::Connect(
    const RedisEndpoint& endpoint, const RedisConnectConfig& config) const {
  Result<OwnedFd> fd = TcpConnect(endpoint.host, endpoint.port, config.connect_timeout_ms,
                                  config.io_timeout_ms);
  if (!fd.ok()) return fd.status();
  const std::string name = tls_.server_name.empty() ? endpoint.host : tls_.server_name;
  ERR_clear_error();
  SslPtr ssl(SSL_new(context_.get()));
  BIO* bio = BIO_new(NoSigpipeSocket());
  if (!ssl || bio == nullptr) {
    BIO_free(bio);
    return Internal("redis TLS: cannot create a connection: " + DrainErrors());
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd->get())));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl.get(), bio, bio);  // the SSL owns it now
  auto notes = std::make_unique<HandshakeNotes>();
  SSL_set_app_data(ssl.get(), notes.get());
  const bool ip = IsIpAddress(name);
  const int named =
      ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str())
         : SSL_set_tlsext_host_name(ssl.get(), name.c_str()) == 1 &&
               SSL_set1_host(ssl.get(), name.c_str()) == 1;
  if (named != 1) {
    return InvalidArgument("options.remote.tls_server_name: '" + name +
                           "' cannot be checked against a certificate: " + DrainErrors());
  }
  TlsFailures failures(endpoint, tls_, name);
  const int ret = SSL_connect(ssl.get());
  if (ret != 1) return failures.Of(ssl.get(), ret, "handshake");
  return std::unique_ptr<RespTransport>(std::make_unique<TlsTransport>(
      std::move(fd).value(), std::move(notes), std::move(ssl), std::move(failures)));
}

}  // namespace kvtier::internal
