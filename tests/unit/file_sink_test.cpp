#include <unistd.h>
#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "kettle/emit/file_sink.hpp"
#include "kettle/emit/gzip_chunks.hpp"
#include "support/files.hpp"
#include "support/stderr_capture.hpp"

namespace fs = std::filesystem;
using namespace kettle::emit;

using kettle::test_support::read_file;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/kettle-sink-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string gunzip(const std::string& data) {
  z_stream z{};
  BOOST_REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  std::string out(data.size() * 20 + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  BOOST_REQUIRE(rc == Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

// Several MiB of distinct lines: crosses the 1 MiB buffer boundaries.
std::string sample_text() {
  std::string text;
  for (int i = 0; i < 120000; ++i) text += "{\"n\": " + std::to_string(i) + ", \"pad\": \"xxxxxxxxxxxxxxxxxxxx\"}\n";
  return text;
}

void write_in_pieces(OutputSink& sink, const std::string& text) {
  size_t step = 1;
  for (size_t pos = 0; pos < text.size(); step = step * 7 % 100003 + 1) {
    size_t n = std::min(step, text.size() - pos);
    sink.write(std::string_view(text).substr(pos, n));
    pos += n;
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(file_sink)

BOOST_AUTO_TEST_CASE(both_backends_write_exact_bytes) {
  TempDir dir;
  const std::string text = sample_text();
  std::vector<FileBackend> backends{FileBackend::syscalls};
  if (kettle::io::probe_backend() == FileBackend::io_uring) backends.push_back(FileBackend::io_uring);
  BOOST_TEST_MESSAGE("file backend probed: " << to_string(kettle::io::probe_backend()));
  for (FileBackend b : backends) {
    fs::path out = dir.path / (std::string("out-") + to_string(b));
    auto sink = open_file_sink(out.string(), b);
    write_in_pieces(*sink, text);
    BOOST_TEST(!fs::exists(out));  // not visible before finish
    sink->finish();
    BOOST_TEST(sink->bytes_written() == text.size());
    BOOST_TEST(read_file(out) == text);
    BOOST_TEST(!fs::exists(out.string() + ".tmp"));
  }
}

BOOST_AUTO_TEST_CASE(abandoned_output_leaves_no_file) {
  TempDir dir;
  fs::path out = dir.path / "abandoned.json";
  {
    auto sink = open_file_sink(out.string(), kettle::io::probe_backend());
    sink->write("partial line without finish");
  }
  BOOST_TEST(!fs::exists(out));
  BOOST_TEST(!fs::exists(out.string() + ".tmp"));
}

BOOST_AUTO_TEST_CASE(gzip_from_independently_deflated_chunks) {
  TempDir dir;
  const std::string text = sample_text();
  fs::path out = dir.path / "rows.json.gz";
  auto sink = open_file_sink(out.string(), kettle::io::probe_backend());
  GzipAssembler gzip(*sink);
  // Lines deflated on different threads, joined in order.
  std::vector<std::string> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos) + 1;
    lines.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  std::vector<DeflatedChunk> chunks(lines.size());
  std::thread other([&] {
    for (size_t i = 0; i < lines.size(); i += 2) chunks[i] = deflate_chunk(lines[i]);
  });
  for (size_t i = 1; i < lines.size(); i += 2) chunks[i] = deflate_chunk(lines[i]);
  other.join();
  chunks.push_back(deflate_chunk(""));  // an empty chunk is harmless
  for (const auto& c : chunks) gzip.add(c);
  gzip.finish();
  BOOST_TEST(gzip.uncompressed_bytes() == text.size());
  BOOST_TEST(gunzip(read_file(out)) == text);
}

BOOST_AUTO_TEST_CASE(parallel_gzip_sink_round_trip) {
  TempDir dir;
  const std::string text = sample_text();
  fs::path out = dir.path / "rows.json.gz";
  auto sink = make_gzip_sink(open_file_sink(out.string(), kettle::io::probe_backend()), 6, 64 * 1024, 2);
  write_in_pieces(*sink, text);
  sink->finish();
  BOOST_TEST(sink->bytes_written() == text.size());
  std::string gz = read_file(out);
  BOOST_TEST(gz.size() < text.size() / 3);
  BOOST_TEST(static_cast<unsigned char>(gz[0]) == 0x1f);
  BOOST_TEST(static_cast<unsigned char>(gz[1]) == 0x8b);
  BOOST_TEST(gunzip(gz) == text);
}

BOOST_AUTO_TEST_CASE(unwritable_location_is_a_clear_error) {
  try {
    open_file_sink("/nonexistent-dir/x/out.json", FileBackend::syscalls);
    BOOST_FAIL("expected OutputError");
  } catch (const OutputError& e) {
    BOOST_TEST(std::string(e.what()).find("/nonexistent-dir/x/out.json.tmp") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(stale_temp_file_of_a_killed_run_is_replaced_and_logged) {
  TempDir dir;
  fs::path out = dir.path / "rows.json";
  const std::string stale(12345, 'x');
  {
    std::ofstream tmp(out.string() + ".tmp", std::ios::binary);
    tmp << stale;  // what a SIGKILLed run leaves: no lock holder, some bytes
  }
  kettle::test_support::StderrCapture capture;
  auto sink = open_file_sink(out.string(), FileBackend::syscalls);
  std::string log = capture.stop();
  BOOST_TEST(log.find("removed stale " + out.string() + ".tmp (12345 bytes)") != std::string::npos, log);
  BOOST_TEST(fs::file_size(out.string() + ".tmp") == 0u);
  sink->write("{\"n\": 1}\n");
  sink->finish();
  BOOST_TEST(read_file(out) == "{\"n\": 1}\n");
  BOOST_TEST(!fs::exists(out.string() + ".tmp"));
}

BOOST_AUTO_TEST_CASE(empty_temp_file_is_reused_silently) {
  TempDir dir;
  fs::path out = dir.path / "rows.json";
  { std::ofstream tmp(out.string() + ".tmp"); }
  kettle::test_support::StderrCapture capture;
  auto sink = open_file_sink(out.string(), FileBackend::syscalls);
  BOOST_TEST(capture.stop().find("removed stale") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(second_writer_of_the_same_output_is_refused) {
  TempDir dir;
  fs::path out = dir.path / "rows.json";
  std::vector<FileBackend> backends{FileBackend::syscalls};
  if (kettle::io::probe_backend() == FileBackend::io_uring) backends.push_back(FileBackend::io_uring);
  for (FileBackend b : backends) {
    auto first = open_file_sink(out.string(), b);
    first->write("first run\n");
    try {
      open_file_sink(out.string(), b);
      BOOST_FAIL("expected OutputError for a second writer");
    } catch (const OutputError& e) {
      BOOST_TEST(std::string(e.what()).find("being written by another run") != std::string::npos, e.what());
    }
    // The refused run neither truncated nor removed the first one's file.
    first->write("still first\n");
    first->finish();
    BOOST_TEST(read_file(out) == "first run\nstill first\n");
    // Once the first is done, the output can be written again.
    auto again = open_file_sink(out.string(), b);
    again->write("second run\n");
    again->finish();
    BOOST_TEST(read_file(out) == "second run\n");
  }
}

BOOST_AUTO_TEST_SUITE_END()
