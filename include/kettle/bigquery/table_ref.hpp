// Table names as users write them ("PROJECT:DATASET.TABLE", or --dataset
// PROJECT:DATASET plus a table name) and as the REST API wants them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kettle::bigquery {

struct TableRef {
  std::string project;  // may be domain-scoped: "example.com:project"
  std::string dataset;
  std::string table;

  // "PROJECT:DATASET.TABLE"; the project ends at the last ':'. nullopt when a
  // part is missing or holds characters BigQuery does not allow, with the
  // reason (naming `text`) in `error` when given.
  static std::optional<TableRef> parse(std::string_view text, std::string* error = nullptr);
  // "PROJECT:DATASET" plus a table name, checked the same way.
  static std::optional<TableRef> in_dataset(std::string_view dataset, std::string_view table,
                                            std::string* error = nullptr);

  std::string str() const;  // PROJECT:DATASET.TABLE
  // "/projects/P/datasets/D/tables/T", each part percent-encoded.
  std::string path() const;
  // "/projects/P/datasets/D".
  std::string dataset_path() const;
};

}  // namespace kettle::bigquery
