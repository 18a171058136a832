// The GCS JSON API over a BucketStore: list, get (metadata or media, with
// decompressive transcoding), bucket get, and media upload.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <mutex>
#include <vector>

#include "bucket_store.hpp"
#include "service.hpp"

namespace fakegcp {

// A newly written object, for OBJECT_FINALIZE notifications (Pub/Sub, later).
struct FinalizedObject {
  std::string bucket;
  std::string name;
  std::string generation;
  boost::json::object resource;  // the object resource as GCS would send it
};

// Which GCS operation a request is, read from its path alone.
struct GcsRoute {
  enum class Op { bucket_get, list, get, media, upload };
  Op op;
  std::string_view bucket;        // as in the path (bucket names need no decoding)
  std::string_view encoded_name;  // percent-encoded object name (get, media)
  std::string_view kind;          // stats kind, e.g. "gcs.list"
};
std::optional<GcsRoute> parse_gcs_route(const Request& req);

class GcsService : public Service {
 public:
  using FinalizeListener = std::function<void(const FinalizedObject&)>;

  explicit GcsService(ServiceContext& ctx) : ctx_(ctx), store_(ctx.config.root) {}
  std::optional<std::string_view> classify(const Request& req) const override;
  Response handle(const Request& req) override;

  // Called after every successful upload, on the uploading io thread.
  void on_finalize(FinalizeListener listener);
  BucketStore& store() { return store_; }

 private:
  Response list(const GcsRoute& route, const Request& req);
  Response get_metadata(const GcsRoute& route, const Request& req);
  Response get_media(const GcsRoute& route, const Request& req);
  Response upload(const GcsRoute& route, const Request& req);
  Response bucket(const GcsRoute& route);
  boost::json::object object_resource(std::string_view bucket, std::string_view name,
                                      const ObjectStat& stat, const ObjectMeta& meta) const;

  ServiceContext& ctx_;
  BucketStore store_;
  std::mutex listeners_mutex_;
  std::vector<FinalizeListener> listeners_;
};

}  // namespace fakegcp
