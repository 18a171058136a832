// The io_uring probe and the upload chunk reader: the same bytes through
// io_uring and through pread (inline or on a pool), short reads only at the
// end of the file, errors naming the file, and the backend metric.
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "kettle/io/file_reader.hpp"
#include "kettle/io/uring_probe.hpp"
#include "kettle/obs/kettle_metrics.hpp"

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace kettle::io;

namespace {

struct TempFile {
  fs::path path;
  explicit TempFile(const std::string& bytes) {
    char tmpl[] = "/tmp/kettle-io-XXXXXX";
    int fd = ::mkstemp(tmpl);
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
    std::ofstream(path, std::ios::binary) << bytes;
  }
  ~TempFile() { fs::remove(path); }
};

// Distinct bytes at every offset (a shifted read cannot pass).
std::string sample_bytes(std::size_t n) {
  std::string bytes(n, '\0');
  std::uint32_t x = 12345;
  for (auto& c : bytes) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  return bytes;
}

struct Read {
  std::uint64_t offset;
  std::size_t size;
};

// Reads each (offset, size) with `reader` on a fresh loop; the bytes, or
// "error: ..." per read.
std::vector<std::string> read_all(const std::string& path, Backend backend, bool on_pool,
                                  const std::vector<Read>& reads) {
  asio::io_context loop;
  asio::thread_pool pool(1);
  std::optional<asio::any_io_executor> blocking;
  if (on_pool) blocking = pool.get_executor();
  FileReader reader(path, backend, loop.get_executor(), blocking);
  BOOST_TEST((reader.backend() == backend));
  std::vector<std::string> out;
  auto run = [&]() -> asio::awaitable<void> {
    for (const Read& r : reads) {
      std::string buffer(r.size, '?');
      std::span<char> into(buffer);
      auto n = co_await reader.read_at(r.offset, into);
      if (!n) {
        out.push_back("error: " + n.error().message());
        continue;
      }
      buffer.resize(*n);
      out.push_back(std::move(buffer));
    }
  };
  asio::co_spawn(loop, run, asio::detached);
  loop.run();
  pool.join();
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io)

BOOST_AUTO_TEST_CASE(every_backend_reads_the_same_bytes) {
  const std::string bytes = sample_bytes((std::size_t{3} << 20) + 1234);
  TempFile file(bytes);
  const std::vector<Read> reads{
      {0, std::size_t{1} << 20},  {std::size_t{1} << 20, std::size_t{2} << 20}, {7, 1},
      {bytes.size() - 100, 4096},  // crosses the end: short
      {bytes.size(), 10},          // at the end: nothing
      {bytes.size() + 5000, 10}};  // beyond it: nothing
  std::vector<std::string> expected;
  for (const Read& r : reads)
    expected.push_back(r.offset >= bytes.size() ? std::string() : bytes.substr(r.offset, r.size));

  BOOST_TEST_MESSAGE("io_uring probed: " << to_string(probe_backend()));
  BOOST_TEST((read_all(file.path, Backend::syscalls, false, reads) == expected));
  BOOST_TEST((read_all(file.path, Backend::syscalls, true, reads) == expected));
  if (probe_backend() == Backend::io_uring) {
    BOOST_TEST((read_all(file.path, Backend::io_uring, false, reads) == expected));
  } else {
    BOOST_TEST_MESSAGE("io_uring unavailable here: its reader is not exercised");
  }
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_an_error_naming_it) {
  asio::io_context loop;
  for (Backend backend : {Backend::syscalls, Backend::io_uring}) {
    try {
      FileReader reader("/nonexistent-dir/rows.json.gz", backend, loop.get_executor(),
                        std::nullopt);
      BOOST_FAIL("opened a missing file");
    } catch (const std::system_error& e) {
      BOOST_TEST(std::string(e.what()).find("/nonexistent-dir/rows.json.gz") != std::string::npos);
      BOOST_TEST(e.code().value() == ENOENT);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_read_error_is_returned) {
  // A directory opens for reading, but read() on it fails (EISDIR).
  asio::io_context loop;
  char tmpl[] = "/tmp/kettle-io-dir-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  std::vector<Backend> backends{Backend::syscalls};
  if (probe_backend() == Backend::io_uring) backends.push_back(Backend::io_uring);
  for (Backend backend : backends) {
    auto got = read_all(dir, backend, false, {{0, 16}});
    BOOST_TEST(got.at(0).starts_with("error: "), got.at(0));
  }
  fs::remove(dir);
}

BOOST_AUTO_TEST_CASE(backend_for_exports_the_choice) {
  Backend backend = backend_for("upload_read");
  BOOST_TEST((backend == probe_backend()));
  std::string text = kettle::obs::registry().render();
  std::string sample = std::string("kettle_io_backend_info{path=\"upload_read\",backend=\"") +
                       to_string(backend) + "\"} 1\n";
  BOOST_TEST(text.find(sample) != std::string::npos, text);
}

BOOST_AUTO_TEST_SUITE_END()
