// Throwaway certificates for the remote tier's TLS tests, made with the
// `openssl` command line at test time: a CA, a server certificate it signed
// (CN localhost, SANs localhost and 127.0.0.1), a client certificate it
// signed (mutual TLS), and a second CA that signed neither. And the
// redis-server configuration lines that serve TLS with them on a second
// port beside the plain one (the plain port is how the test helpers in
// redis_support.h check the server is up and look at keys).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "tests/redis_support.h"

namespace kvtier::testing {

class TlsFiles {
 public:
  // nullptr when the openssl command line is not installed (the caller
  // skips, saying so); a command that fails fails the test, with its output.
  static std::unique_ptr<TlsFiles> Make() {
    if (!OnPath("openssl")) return nullptr;
    auto f = std::unique_ptr<TlsFiles>(new TlsFiles());
    const bool made =
        f->MakeCa("ca", "kvtier test CA") && f->MakeCa("other-ca", "another CA") &&
        f->MakeSigned("server", "localhost",
                      "subjectAltName=DNS:localhost,IP:127.0.0.1") &&
        f->MakeSigned("client", "kvtier test client", "extendedKeyUsage=clientAuth");
    if (!made) {
      std::ifstream log(f->path("openssl.log"));
      FAIL("openssl could not make the test certificates: " << std::string(
               std::istreambuf_iterator<char>(log), {}));
    }
    return f;
  }

  std::string path(const std::string& name) const {
    return (dir_.path() / name).string();
  }
  std::string ca() const { return path("ca.crt"); }
  std::string other_ca() const { return path("other-ca.crt"); }
  std::string client_cert() const { return path("client.crt"); }
  std::string client_key() const { return path("client.key"); }

  // redis.conf lines: TLS on `tls_port`, certificates from here. `mutual`:
  // clients must present a certificate our CA signed (tls-auth-clients yes).
  enum class ClientCerts { kOptional, kRequired };
  std::vector<std::string> ServerConfig(int tls_port, ClientCerts clients) const {
    return {"tls-port " + std::to_string(tls_port), "tls-cert-file " + path("server.crt"),
            "tls-key-file " + path("server.key"), "tls-ca-cert-file " + ca(),
            std::string("tls-auth-clients ") +
                (clients == ClientCerts::kRequired ? "yes" : "optional")};
  }

 private:
  TlsFiles() = default;

  bool Run(const std::string& command) const {
    return std::system((command + " > " + path("openssl.log") + " 2>&1").c_str()) == 0;
  }
  bool MakeCa(const std::string& name, const std::string& cn) const {
    return Run(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-days 2 -subj '/CN=" +
        cn + "' -keyout " + path(name + ".key") + " -out " + path(name + ".crt"));
  }
  bool MakeSigned(const std::string& name, const std::string& cn,
                  const std::string& extension) const {
    std::ofstream(path(name + ".ext")) << extension << "\n";
    return Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
               "-subj '/CN=" +
               cn + "' -keyout " + path(name + ".key") + " -out " +
               path(name + ".csr")) &&
           Run("openssl x509 -req -days 2 -in " + path(name + ".csr") + " -CA " + ca() +
               " -CAkey " + path("ca.key") + " -CAcreateserial -extfile " +
               path(name + ".ext") + " -out " + path(name + ".crt"));
  }

  TempDir dir_;
};

// A 3-master cluster whose clients and cluster bus speak TLS
// (tls-cluster yes, tls-replication yes); tls_ports[i] is node i's TLS port.
inline std::unique_ptr<RedisCluster> StartTlsCluster(const TlsFiles& files,
                                                     std::vector<int>* tls_ports) {
  tls_ports->clear();
  for (int i = 0; i < 3; ++i) tls_ports->push_back(FreePort());
  RedisCluster::Setup setup;
  setup.node_config = [&](int node) {
    std::vector<std::string> lines =
        files.ServerConfig((*tls_ports)[node], TlsFiles::ClientCerts::kOptional);
    lines.push_back("tls-cluster yes");
    lines.push_back("tls-replication yes");
    return lines;
  };
  setup.create_port = [&](int node, const RedisServer&) { return (*tls_ports)[node]; };
  setup.cli_flags = "--tls --cacert " + files.ca() + " --cert " + files.client_cert() +
                    " --key " + files.client_key();
  return RedisCluster::Start(setup);
}

}  // namespace kvtier::testing
