// make-db's listing state of one prefix (a job directory): a row of the
// side table listing_cursor, which the reference neither reads nor writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kettle::store {

struct ListingCursor {
  std::string prefix;         // gs://bucket/path/job/ (the key)
  // Every name below it is present in the database, or in `kept`, so a
  // listing may start here (GCS startOffset); "" = list the prefix in full.
  std::string cursor;
  int64_t full_listed_at = 0;     // the last full listing of the prefix, epoch seconds
  int64_t names = 0;              // names the prefix held at its last listing
  int64_t names_from_cursor = 0;  // of which sort at or after `cursor`
  // Names below the cursor that are not present (a build that never wrote
  // started.json, a fetch that failed): fetched by every run, as a full
  // listing would, without listing what lies between them and the cursor.
  std::vector<std::string> kept = {};

  bool operator==(const ListingCursor&) const = default;
};

}  // namespace kettle::store
