#include "kettle/bigquery/table_ref.hpp"

#include "kettle/net/url.hpp"

namespace kettle::bigquery {
namespace {

bool is_letter_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Project ids: letters, digits, '-', and '.'/':' of domain-scoped ids.
std::optional<std::string> project_problem(std::string_view project) {
  if (project.empty()) return "the project is empty";
  for (char c : project) {
    if (!is_letter_or_digit(c) && c != '-' && c != '.' && c != ':')
      return "'" + std::string(1, c) + "' is not allowed in a project id";
  }
  return std::nullopt;
}

// Dataset ids: letters, digits and underscores only.
std::optional<std::string> dataset_problem(std::string_view dataset) {
  if (dataset.empty()) return "the dataset is empty";
  for (char c : dataset) {
    if (!is_letter_or_digit(c) && c != '_')
      return "'" + std::string(1, c) + "' is not allowed in a dataset id";
  }
  return std::nullopt;
}

// Table ids may hold far more (Unicode letters, spaces, dashes); we only
// refuse what would make the reference ambiguous or is never valid.
std::optional<std::string> table_problem(std::string_view table) {
  if (table.empty()) return "the table is empty";
  for (char c : table) {
    if (c == '.' || c == ':' || c == '/' || static_cast<unsigned char>(c) < 0x20)
      return "'" + std::string(1, c) + "' is not allowed in a table id";
  }
  return std::nullopt;
}

std::optional<TableRef> fail(std::string* error, std::string_view text, std::string_view form,
                             std::string_view why) {
  if (error)
    *error = "'" + std::string(text) + "' must be " + std::string(form) + ": " + std::string(why);
  return std::nullopt;
}

}  // namespace

std::optional<TableRef> TableRef::parse(std::string_view text, std::string* error) {
  constexpr std::string_view form = "PROJECT:DATASET.TABLE";
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail(error, text, form, "no ':' after the project");
  auto rest = text.substr(colon + 1);
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) return fail(error, text, form, "no '.' before the table");
  TableRef ref{std::string(text.substr(0, colon)), std::string(rest.substr(0, dot)),
               std::string(rest.substr(dot + 1))};
  for (const auto& problem :
       {project_problem(ref.project), dataset_problem(ref.dataset), table_problem(ref.table)}) {
    if (problem) return fail(error, text, form, *problem);
  }
  return ref;
}

std::optional<TableRef> TableRef::in_dataset(std::string_view dataset, std::string_view table,
                                             std::string* error) {
  constexpr std::string_view form = "PROJECT:DATASET";
  auto colon = dataset.rfind(':');
  if (colon == std::string_view::npos)
    return fail(error, dataset, form, "no ':' after the project");
  TableRef ref{std::string(dataset.substr(0, colon)), std::string(dataset.substr(colon + 1)),
               std::string(table)};
  if (auto problem = project_problem(ref.project)) return fail(error, dataset, form, *problem);
  if (auto problem = dataset_problem(ref.dataset)) return fail(error, dataset, form, *problem);
  if (auto problem = table_problem(ref.table)) {
    return fail(error, table, "a table name", *problem);
  }
  return ref;
}

std::string TableRef::str() const { return project + ":" + dataset + "." + table; }

std::string TableRef::dataset_path() const {
  return "/projects/" + net::encode_path_segment(project) + "/datasets/" +
         net::encode_path_segment(dataset);
}

std::string TableRef::path() const {
  return dataset_path() + "/tables/" + net::encode_path_segment(table);
}

}  // namespace kettle::bigquery
