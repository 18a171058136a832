// Every knob of the fake in one place, with its default beside the name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace fakegcp {

struct ServerConfig {
  std::filesystem::path root;         // objects live in root/<bucket>/<name>
  std::string host = "127.0.0.1";     // loopback only: the fake is never exposed
  unsigned short port = 0;            // 0 = let the kernel pick one
  unsigned threads = 2;               // io threads running the one io_context
  std::string tls_cert;               // PEM chain; with tls_key serves https
  std::string tls_key;                // PEM private key
  std::string sa_public_key;          // PEM public key (or certificate) verifying JWT assertions
  unsigned token_ttl_seconds = 3600;  // lifetime of issued access tokens
  bool require_auth = false;          // GCS calls need a live bearer token
  std::string faults_file;            // JSON fault rules loaded at start
  unsigned latency_ms = 0;            // delay added before every request (benchmarks)
  std::uint64_t seed = 1;             // fault probability rolls are reproducible
  std::string project_id = "fake-project";  // metadata server's project
  std::size_t body_limit = 256u << 20;      // largest accepted request body
  std::size_t header_limit = 64u << 10;     // largest accepted request header block
};

}  // namespace fakegcp
