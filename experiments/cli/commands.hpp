#pragma once
// Subcommands of the `receptive` CLI, one function each.

namespace rc::cli {

void register_everything();  // fills the catalog from models/, datasets/ and the attention policies
void print_list();           // `receptive list`

}  // namespace rc::cli
