#include "experiments/run_data.hpp"

#include "experiments/train/sequence_task.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "datasets/graph/graph_data.hpp"
#include "datasets/registry.hpp"
#include "experiments/config/experiment.hpp"
#include "experiments/config/yaml_params.hpp"
#include "framework/io/safetensors.hpp"
#include "models/gnn.hpp"
#include "models/registry.hpp"

namespace rc::exp {

namespace fs = std::filesystem;

RunConfig read_run_config(const fs::path& run_dir) {
  const fs::path cfg = run_dir / "config.yaml";
  std::error_code ec;
  RC_CHECK(fs::is_directory(run_dir, ec), "{}: no such run folder (expected results/<name>/runs/<run>)",
           run_dir.string());
  RC_CHECK(fs::exists(cfg, ec), "{}: no config.yaml (expected a run folder such as results/<name>/runs/<run>)",
           run_dir.string());
  YAML::Node root;
  try {
    root = YAML::LoadFile(cfg.string());
  } catch (const YAML::ParserException& e) {
    fail("{}:{}: YAML syntax error: {}", cfg.string(), e.mark.line + 1, e.msg);
  } catch (const YAML::Exception& e) {
    fail("{}: cannot read the run's config ({})", cfg.string(), e.what());
  }
  RC_CHECK(root.IsMap() && root["model"].IsMap(), "{}: no `model` section (expected the config.yaml a run writes)",
           cfg.string());
  RunConfig c;
  c.dir = run_dir;
  c.model_type = config::scalar_of(root["model"]["type"], cfg.string(), "model.type", "a model type");
  const auto& mt = models::model_type(c.model_type);
  c.model_params = config::read_params(root["model"], mt.schema, cfg.string(), "model", {"type", "name", "train"});
  c.dataset = read_dataset_params(root["dataset"], cfg.string(), "dataset");
  const std::string domain = data::dataset_type(c.dataset.get_string("name")).domain;
  RC_CHECK(domain == data::kGraphDomain || domain == data::kImageDomain || domain == data::kSequenceDomain,
           "{}: a run on {} data (dataset '{}'); loading runs back handles image, sequence and graph runs",
           run_dir.string(), domain, c.dataset.get_string("name"));
  c.graph = domain == data::kGraphDomain;
  c.sequence = domain == data::kSequenceDomain;
  try {
    if (root["train_size"]) c.train_size = root["train_size"].as<double>();
    if (root["seed"]) c.seed = root["seed"].as<int64_t>();
  } catch (const YAML::Exception&) {
    fail("{}: train_size and seed must be numbers", cfg.string());
  }
  return c;
}

fs::path run_checkpoint(const fs::path& run_dir, const std::string& which) {
  RC_CHECK(which == "best" || which == "last", "--checkpoint '{}': expected best or last", which);
  const fs::path p = run_dir / (which + ".safetensors");
  std::error_code ec;
  RC_CHECK(fs::exists(p, ec), "{}: no {}.safetensors (checkpoints are written when a run finishes)",
           run_dir.string(), which);
  return p;
}

io::Metadata load_checkpoint(const fs::path& file, const std::string& type, nn::Module& model) {
  io::SafetensorsFile f = io::load_safetensors(file.string());
  for (auto& [name, t] : f.tensors) name = models::current_parameter_name(type, name);
  try {
    model.load_state_dict(f.tensors, true);
  } catch (const std::exception& e) {
    fail("{}: {} (a checkpoint of a '{}' model?)", file.string(), e.what(), type);
  }
  // the runner never saves non-finite weights; such a file was damaged or written by something else
  if (const std::string bad = non_finite_tensor(model); !bad.empty())
    fail("{}: the weights hold {} (expected finite values; the runner never saves such a checkpoint)", file.string(),
         bad);
  model.eval();
  return f.metadata;
}

std::unique_ptr<RunData> load_run_data(const RunConfig& c) {
  auto d = std::make_unique<RunData>();
  const std::string name = c.dataset.get_string("name");
  if (c.graph) {
    d->graph = data::load_graph_dataset(c.dataset);
    const data::Split split = data::run_split(*d->graph, c.dataset, c.train_size, uint64_t(c.seed), name);
    d->graph_task = make_graph_task(*d->graph, split);
  } else if (c.sequence) {
    d->sequences = data::load_sequence_dataset(c.dataset);
    d->subset = data::run_subset(*d->sequences, c.dataset, c.train_size, uint64_t(c.seed), name,
                                 c.dir.filename().string());
  } else {
    d->images = load_images(c.dataset);
    d->subset = data::run_subset(*d->images, c.dataset, c.train_size, uint64_t(c.seed), name,
                                 c.dir.filename().string());
  }
  return d;
}

bool checkpoint_records_input(const fs::path& checkpoint) {
  ImageInputInfo in;
  return read_image_input_metadata(io::load_safetensors(checkpoint.string()).metadata, in, checkpoint.string());
}

ImageRun load_image_run(const RunConfig& c, const fs::path& checkpoint, const RunData* data) {
  RC_CHECK(!c.graph && !c.sequence, "{}: a {} run, not an image run", c.dir.string(), c.graph ? "graph" : "sequence");
  ImageRun r;
  r.metadata = io::load_safetensors(checkpoint.string()).metadata;
  if (!read_image_input_metadata(r.metadata, r.input, checkpoint.string())) {
    RC_CHECK(data && data->images, "{}: the checkpoint does not record its input (written before that was saved); "
             "the run's dataset is needed", checkpoint.string());
    r.input = {data->images->shape, data->images->normalize, data->images->train.class_names};
  }
  if (data && data->images) {
    const auto& s = data->images->shape;
    RC_CHECK(s.channels == r.input.shape.channels && s.height == r.input.shape.height &&
                 s.width == r.input.shape.width && s.num_classes == r.input.shape.num_classes,
             "{}: trained on {}x{}x{} images of {} classes, but the run's dataset now gives {}x{}x{} of {}",
             checkpoint.string(), r.input.shape.channels, r.input.shape.height, r.input.shape.width,
             r.input.shape.num_classes, s.channels, s.height, s.width, s.num_classes);
  }
  r.model = models::model_type(c.model_type).make_image(c.model_params, r.input.shape, 0);
  load_checkpoint(checkpoint, c.model_type, *r.model);
  return r;
}

GraphRun load_graph_run(const RunConfig& c, const fs::path& checkpoint, const RunData& data) {
  RC_CHECK(c.graph && data.graph_task, "{}: an image run, not a graph run", c.dir.string());
  const GraphTask& t = *data.graph_task;
  GraphRun r;
  r.metadata = io::load_safetensors(checkpoint.string()).metadata;
  if (read_graph_input_metadata(r.metadata, r.input, checkpoint.string())) {
    RC_CHECK(r.input.nodes == t.input.num_nodes && r.input.features == t.input.num_features &&
                 r.input.classes == t.input.num_classes,
             "{}: trained on a graph of {} nodes, {} features and {} classes; the run's dataset now has {}, {} and {}",
             checkpoint.string(), r.input.nodes, r.input.features, r.input.classes, t.input.num_nodes,
             t.input.num_features, t.input.num_classes);
    RC_CHECK(r.input.node_ids.empty() || r.input.node_ids == t.node_ids,
             "{}: the dataset's nodes are not in the order the model was trained with (node_ids differ)",
             checkpoint.string());
    RC_CHECK(r.input.class_names.empty() || r.input.class_names == t.class_names,
             "{}: the dataset's class names differ from the ones the model was trained with", checkpoint.string());
  } else {
    r.input = {t.input.num_nodes, t.input.num_features, t.input.num_classes, t.class_names, t.node_ids};
  }
  r.model = models::model_type(c.model_type).make_graph(c.model_params, t.input, 0);
  load_checkpoint(checkpoint, c.model_type, *r.model);
  return r;
}

SequenceRun load_sequence_run(const RunConfig& c, const fs::path& checkpoint, const RunData* data) {
  RC_CHECK(c.sequence, "{}: not a sequence run", c.dir.string());
  SequenceRun r;
  r.metadata = io::load_safetensors(checkpoint.string()).metadata;
  const bool recorded = read_sequence_input_metadata(r.metadata, r.shape, r.class_names, checkpoint.string());
  if (data && data->sequences) {
    const data::SequenceSet& tr = data->sequences->train;
    const models::SequenceShape s{tr.length, tr.features, tr.num_classes()};
    RC_CHECK(!recorded || (s.length == r.shape.length && s.features == r.shape.features &&
                           s.num_classes == r.shape.num_classes),
             "{}: trained on sequences of {} steps × {} features and {} classes, but the run's dataset now gives {} × "
             "{} and {}", checkpoint.string(), r.shape.length, r.shape.features, r.shape.num_classes, s.length,
             s.features, s.num_classes);
    if (!recorded) r.shape = s, r.class_names = tr.class_names;
  }
  RC_CHECK(recorded || (data && data->sequences), "{}: the checkpoint does not record its sequence shape; the run's "
           "dataset is needed", checkpoint.string());
  r.model = models::model_type(c.model_type).make_sequence(c.model_params, r.shape, 0);
  load_checkpoint(checkpoint, c.model_type, *r.model);
  return r;
}

}  // namespace rc::exp
