// The GCS JSON API over the fake's buckets (files under --root, or generated
// by --synthetic): list, get (metadata or media, with decompressive
// transcoding), bucket get, and media upload. Also owns /_fake/synthetic
// (what the generated buckets hold now; advancing their time).
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <mutex>
#include <vector>

#include "bucket_store.hpp"
#include "service.hpp"
#include "synthetic_store.hpp"

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

  // Throws std::invalid_argument for a bad synthetic spec.
  explicit GcsService(ServiceContext& ctx);
  std::optional<std::string_view> classify(const Request& req) const override;
  Response handle(const Request& req) override;
  bool is_control(const Request& req) const override;

  // Called after every successful upload, on the uploading io thread.
  void on_finalize(FinalizeListener listener);

 private:
  ObjectStore& store_for(std::string_view bucket);
  Response control(const Request& req);
  Response list(ObjectStore& store, const GcsRoute& route, const Request& req);
  Response get_metadata(ObjectStore& store, const GcsRoute& route, const Request& req);
  Response get_media(ObjectStore& store, const GcsRoute& route, const Request& req);
  Response upload(ObjectStore& store, const GcsRoute& route, const Request& req);
  Response bucket(const GcsRoute& route);
  boost::json::object object_resource(std::string_view bucket, std::string_view name,
                                      const ObjectStat& stat, const ObjectMeta& meta) const;

  ServiceContext& ctx_;
  BucketStore files_;
  SyntheticStore synthetic_;
  std::mutex listeners_mutex_;
  std::vector<FinalizeListener> listeners_;
};

}  // namespace fakegcp
