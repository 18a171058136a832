#include "gcs_service.hpp"

#include <boost/json/value.hpp>
#include <charconv>
#include <ctime>

#include "api_error.hpp"
#include "base64url.hpp"
#include "field_mask.hpp"
#include "gzip_codec.hpp"
#include "json_body.hpp"
#include "time_text.hpp"

namespace fakegcp {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxPageSize = 1000;  // GCS caps maxResults here; also the default
constexpr std::string_view kJsonPrefix = "/storage/v1/b/";
constexpr std::string_view kDownloadPrefix = "/download/storage/v1/b/";
constexpr std::string_view kUploadPrefix = "/upload/storage/v1/b/";
constexpr std::string_view kSyntheticControl = "/_fake/synthetic";

bool wants_media(const Request& req) {
  auto alt = find_param(parse_params(req.query()), "alt");
  return alt && *alt == "media";
}

// Splits "{bucket}" or "{bucket}/o" or "{bucket}/o/{name}" after an API prefix.
struct PathParts {
  std::string_view bucket;
  bool objects = false;  // "/o" present
  std::optional<std::string_view> name;
};

std::optional<PathParts> split_bucket_path(std::string_view rest) {
  PathParts parts;
  auto slash = rest.find('/');
  parts.bucket = rest.substr(0, slash);
  if (parts.bucket.empty()) return std::nullopt;
  if (slash == std::string_view::npos) return parts;
  rest.remove_prefix(slash);
  if (rest == "/o") {
    parts.objects = true;
    return parts;
  }
  if (!rest.starts_with("/o/")) return std::nullopt;
  parts.objects = true;
  parts.name = rest.substr(3);  // may hold raw '/' from clients that do not escape it
  return parts;
}

std::string generation_of(const ObjectStat& stat) { return std::to_string(stat.mtime_ns / 1000); }

std::string guess_content_type(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends(".json")) return "application/json";
  if (ends(".txt") || ends(".log")) return "text/plain";
  if (ends(".xml")) return "application/xml";
  if (ends(".html")) return "text/html";
  if (ends(".gz")) return "application/gzip";
  return "application/octet-stream";
}

std::string content_type_of(std::string_view name, const ObjectMeta& meta) {
  return meta.content_type.empty() ? guess_content_type(name) : meta.content_type;
}

Response not_found_object(std::string_view bucket, std::string_view name) {
  return api_error(404, "No such object: " + std::string(bucket) + "/" + std::string(name),
                   "notFound");
}

Response method_not_allowed() {
  return api_error(405, "Method not allowed for this resource.", "methodNotAllowed");
}

std::optional<FieldMask> fields_of(const Params& params) {
  auto fields = find_param(params, "fields");
  if (!fields || fields->empty()) return std::nullopt;
  return FieldMask::parse(*fields);
}

}  // namespace

std::optional<GcsRoute> parse_gcs_route(const Request& req) {
  std::string_view path = req.path();
  using Op = GcsRoute::Op;
  if (path.starts_with(kUploadPrefix)) {
    auto parts = split_bucket_path(path.substr(kUploadPrefix.size()));
    if (!parts || !parts->objects || parts->name) return std::nullopt;
    return GcsRoute{Op::upload, parts->bucket, {}, "gcs.upload"};
  }
  if (path.starts_with(kDownloadPrefix)) {
    auto parts = split_bucket_path(path.substr(kDownloadPrefix.size()));
    if (!parts || !parts->name) return std::nullopt;
    return GcsRoute{Op::media, parts->bucket, *parts->name, "gcs.media"};
  }
  if (!path.starts_with(kJsonPrefix)) return std::nullopt;
  auto parts = split_bucket_path(path.substr(kJsonPrefix.size()));
  if (!parts) return std::nullopt;
  if (!parts->objects) return GcsRoute{Op::bucket_get, parts->bucket, {}, "gcs.bucket"};
  if (!parts->name) return GcsRoute{Op::list, parts->bucket, {}, "gcs.list"};
  if (wants_media(req)) return GcsRoute{Op::media, parts->bucket, *parts->name, "gcs.media"};
  return GcsRoute{Op::get, parts->bucket, *parts->name, "gcs.get"};
}

namespace {

// Object reads by what a Prow collector reads them for, so tests can count
// requests by purpose (an unchanged tree must read no PR pointer).
std::string_view media_kind(std::string_view encoded_name) {
  auto ends = [&](std::string_view suffix) { return encoded_name.ends_with(suffix); };
  if (ends("latest-build.txt")) return "gcs.media.latest_build";
  if (ends("%2Fstarted.json") || ends("/started.json")) return "gcs.media.started";
  if (ends("%2Ffinished.json") || ends("/finished.json")) return "gcs.media.finished";
  if (ends(".xml")) return "gcs.media.junit";
  if (ends(".txt") && (encoded_name.starts_with("pr-logs%2Fdirectory%2F") ||
                       encoded_name.starts_with("pr-logs/directory/")))
    return "gcs.media.pointer";
  return "gcs.media.other";
}

}  // namespace

GcsService::GcsService(ServiceContext& ctx)
    : ctx_(ctx),
      files_(ctx.config.root),
      synthetic_(ctx.config.synthetic, static_cast<std::int64_t>(std::time(nullptr))) {}

bool GcsService::is_control(const Request& req) const {
  return req.path().starts_with(kSyntheticControl);
}

std::optional<std::string_view> GcsService::classify(const Request& req) const {
  if (is_control(req)) return "control";
  auto route = parse_gcs_route(req);
  if (!route) return std::nullopt;
  if (route->op == GcsRoute::Op::media) return media_kind(route->encoded_name);
  return route->kind;
}

void GcsService::on_finalize(FinalizeListener listener) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.push_back(std::move(listener));
}

ObjectStore& GcsService::store_for(std::string_view bucket) {
  if (synthetic_.bucket_exists(bucket)) return synthetic_;
  return files_;
}

// GET: what each synthetic bucket holds now. POST .../advance with an
// optional {"bucket", "percent"}: the next generation (new builds, running
// ones finish), then the same summary.
Response GcsService::control(const Request& req) {
  std::string_view path = req.path();
  if (path == kSyntheticControl && req.method == "GET")
    return Response::json(200, synthetic_.summary());
  if (path == std::string(kSyntheticControl) + "/advance" && req.method == "POST") {
    std::string error;
    auto body = parse_object(req.body, error);
    if (!body) return api_error(400, error, "invalid");
    double percent = -1;  // the spec's `new`
    if (const auto* p = body->if_contains("percent")) {
      if (!p->is_number() || p->to_number<double>() < 0 || p->to_number<double>() > 1000)
        return api_error(400, "percent: want a number in [0, 1000]", "invalid");
      percent = p->to_number<double>();
    }
    std::string bucket = string_at(*body, "bucket");
    if (!synthetic_.advance(bucket, percent))
      return api_error(404, "no synthetic bucket " + (bucket.empty() ? "at all" : bucket),
                       "notFound");
    return Response::json(200, synthetic_.summary());
  }
  return api_error(404, "no such control endpoint: " + req.method + " " + std::string(path),
                   "notFound");
}

Response GcsService::handle(const Request& req) {
  if (is_control(req)) return control(req);
  auto route = parse_gcs_route(req);
  if (!route) return api_error(404, "Not Found", "notFound");
  if (ctx_.config.require_auth && !ctx_.tokens.authorizes(req.header("authorization")))
    return unauthorized_error();
  ObjectStore& store = store_for(route->bucket);
  if (!store.bucket_exists(route->bucket))
    return api_error(404, "The specified bucket does not exist.", "notFound");
  bool get = req.method == "GET";
  switch (route->op) {
    case GcsRoute::Op::bucket_get:
      return get ? bucket(*route) : method_not_allowed();
    case GcsRoute::Op::list:
      return get ? list(store, *route, req) : method_not_allowed();
    case GcsRoute::Op::get:
      return get ? get_metadata(store, *route, req) : method_not_allowed();
    case GcsRoute::Op::media:
      return get ? get_media(store, *route, req) : method_not_allowed();
    case GcsRoute::Op::upload:
      return req.method == "POST" ? upload(store, *route, req) : method_not_allowed();
  }
  return api_error(404, "Not Found", "notFound");
}

json::object GcsService::object_resource(std::string_view bucket, std::string_view name,
                                         const ObjectStat& stat, const ObjectMeta& meta) const {
  std::string generation = generation_of(stat);
  std::string encoded = percent_encode(name);
  std::string updated = rfc3339(stat.mtime_ns);
  json::object o;
  o["kind"] = "storage#object";
  o["id"] = std::string(bucket) + "/" + std::string(name) + "/" + generation;
  o["selfLink"] = ctx_.base_url + std::string(kJsonPrefix) + std::string(bucket) + "/o/" + encoded;
  o["mediaLink"] = ctx_.base_url + std::string(kDownloadPrefix) + std::string(bucket) + "/o/" +
                   encoded + "?generation=" + generation + "&alt=media";
  o["name"] = name;
  o["bucket"] = bucket;
  o["generation"] = generation;
  o["metageneration"] = "1";
  o["contentType"] = content_type_of(name, meta);
  if (!meta.content_encoding.empty()) o["contentEncoding"] = meta.content_encoding;
  o["storageClass"] = "STANDARD";
  o["size"] = std::to_string(stat.size);
  o["timeCreated"] = updated;
  o["updated"] = updated;
  for (const auto& [key, value] : meta.extra) o[key] = value;  // sidecar extras (e.g. "metadata")
  return o;
}

Response GcsService::bucket(const GcsRoute& route) {
  return Response::json(200, json::object{{"kind", "storage#bucket"},
                                          {"id", route.bucket},
                                          {"selfLink", ctx_.base_url + std::string(kJsonPrefix) +
                                                           std::string(route.bucket)},
                                          {"name", route.bucket},
                                          {"location", "US"},
                                          {"storageClass", "STANDARD"}});
}

Response GcsService::list(ObjectStore& store, const GcsRoute& route, const Request& req) {
  Params params = parse_params(req.query());
  ListQuery query;
  query.prefix = find_param(params, "prefix").value_or("");
  query.delimiter = find_param(params, "delimiter").value_or("");
  query.start_offset = find_param(params, "startOffset").value_or("");
  query.end_offset = find_param(params, "endOffset").value_or("");
  query.max_results = kMaxPageSize;
  if (auto max = find_param(params, "maxResults"); max && !max->empty()) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(max->data(), max->data() + max->size(), n);
    if (ec != std::errc() || end != max->data() + max->size())
      return api_error(400, "Invalid unsigned integer value: '" + *max + "'.", "invalidParameter");
    if (n > 0) query.max_results = std::min(n, kMaxPageSize);
  }
  if (auto token = find_param(params, "pageToken"); token && !token->empty()) {
    query.after = base64url_decode(*token);
    if (!query.after) return api_error(400, "Invalid pageToken.", "invalid");
  }
  auto mask = fields_of(params);
  const FieldMask* item_mask = mask ? mask->child("items") : nullptr;
  bool need_stat = !mask || (item_mask && !item_mask->selects_only({"name", "bucket", "kind"}));

  ListPage page = store.list(route.bucket, query);
  ctx_.stats.names_listed(page.items.size() + page.prefixes.size());
  json::array items;
  for (const std::string& name : page.items) {
    if (!need_stat) {
      items.push_back(
          json::object{{"kind", "storage#object"}, {"name", name}, {"bucket", route.bucket}});
      continue;
    }
    auto stat = store.stat(route.bucket, name);
    if (!stat) continue;  // deleted since the walk
    items.push_back(object_resource(route.bucket, name, *stat, store.meta(route.bucket, name)));
  }
  json::object out;
  out["kind"] = "storage#objects";
  if (page.last) out["nextPageToken"] = base64url_encode(*page.last);
  if (!page.prefixes.empty()) {
    json::array prefixes;
    for (auto& p : page.prefixes) prefixes.emplace_back(p);
    out["prefixes"] = std::move(prefixes);
  }
  if (!items.empty()) out["items"] = std::move(items);
  json::value body = std::move(out);
  if (mask) mask->apply(body);
  return Response::json(200, body);
}

Response GcsService::get_metadata(ObjectStore& store, const GcsRoute& route, const Request& req) {
  auto name = percent_decode(route.encoded_name, false);
  if (!name) return api_error(400, "Invalid object name encoding.", "invalid");
  std::optional<ObjectStat> stat;
  if (valid_object_name(*name)) stat = store.stat(route.bucket, *name);
  if (!stat) return not_found_object(route.bucket, *name);
  json::value body = object_resource(route.bucket, *name, *stat, store.meta(route.bucket, *name));
  if (auto mask = fields_of(parse_params(req.query()))) mask->apply(body);
  return Response::json(200, body);
}

Response GcsService::get_media(ObjectStore& store, const GcsRoute& route, const Request& req) {
  auto name = percent_decode(route.encoded_name, false);
  if (!name) return api_error(400, "Invalid object name encoding.", "invalid");
  ObjectStat stat;
  std::optional<std::string> bytes;
  if (valid_object_name(*name)) bytes = store.read(route.bucket, *name, stat);
  if (!bytes) return not_found_object(route.bucket, *name);
  ObjectMeta meta = store.meta(route.bucket, *name);

  Response r;
  r.headers.emplace_back("Content-Type", content_type_of(*name, meta));
  r.headers.emplace_back("X-Goog-Generation", generation_of(stat));
  r.headers.emplace_back("X-Goog-Metageneration", "1");
  r.headers.emplace_back("X-Goog-Stored-Content-Encoding",
                         meta.content_encoding.empty() ? "identity" : meta.content_encoding);
  r.headers.emplace_back("X-Goog-Stored-Content-Length", std::to_string(stat.size));
  bool transcode = meta.content_encoding == "gzip" && !accepts_gzip(req.header("accept-encoding"));
  if (transcode) {
    auto plain = gunzip(*bytes);
    if (!plain)
      return api_error(500, "Stored object " + *name + " is marked gzip but does not inflate.",
                       "internalError");
    r.body = std::move(*plain);
  } else {
    if (!meta.content_encoding.empty())
      r.headers.emplace_back("Content-Encoding", meta.content_encoding);
    r.body = std::move(*bytes);
  }
  return r;
}

Response GcsService::upload(ObjectStore& store, const GcsRoute& route, const Request& req) {
  Params params = parse_params(req.query());
  auto upload_type = find_param(params, "uploadType");
  if (upload_type && *upload_type != "media")
    return api_error(400, "The fake supports only uploadType=media.", "invalid");
  auto name = find_param(params, "name");
  if (!name || name->empty()) return api_error(400, "Required parameter: name", "required");
  if (!valid_object_name(*name))
    return api_error(400, "Object name cannot be stored by the fake: " + *name, "invalid");
  if (!store.writable())
    return api_error(403, "Bucket " + std::string(route.bucket) + " is synthetic: read-only.",
                     "forbidden");

  ObjectMeta meta;
  meta.content_encoding = find_param(params, "contentEncoding").value_or("");
  std::string_view content_type = req.header("content-type");
  if (!content_type.empty() && content_type != guess_content_type(*name))
    meta.content_type = content_type;
  if (auto error = store.write(route.bucket, *name, req.body, meta))
    return api_error(500, *error, "internalError");

  auto stat = store.stat(route.bucket, *name);
  if (!stat) return api_error(500, "Upload of " + *name + " vanished.", "internalError");
  FinalizedObject done{std::string(route.bucket), *name, generation_of(*stat),
                       object_resource(route.bucket, *name, *stat, meta)};
  {
    std::lock_guard lock(listeners_mutex_);
    for (const auto& listener : listeners_) listener(done);
  }
  return Response::json(200, done.resource);
}

}  // namespace fakegcp
