#include <catch2/catch.hpp>

#include "experiments/train/progress.hpp"

using namespace rc::exp;

TEST_CASE("progress: the bar shows epoch, fill, loss, accuracy, throughput and the ETA from the mean step time") {
  // 100 of 400 steps in 50 s: 0.5 s a step, 300 steps to go = 150 s = 2:30; 12800 images in 50 s = 256/s
  const std::string line = progress_line("[1/3] cnn", 100, 400, 2, 8, 0.51234, 0.8766, 12800, 50.0);
  CHECK(line == "[1/3] cnn epoch 2/8 [======                  ]  25% loss 0.5123 acc 0.877 256/s ETA 2:30");
  // the start (no step yet) and the end
  CHECK(progress_line("r", 0, 10, 1, 1, 2.0, 0.1, 0, 0.0).find("[                        ]   0%") != std::string::npos);
  CHECK(progress_line("r", 0, 10, 1, 1, 2.0, 0.1, 0, 0.0).find("0/s ETA 0:00") != std::string::npos);
  CHECK(progress_line("r", 10, 10, 1, 1, 0.2, 0.9, 1280, 4.0).find("[========================] 100%") !=
        std::string::npos);
  CHECK(progress_line("r", 10, 10, 1, 1, 0.2, 0.9, 1280, 4.0).find("320/s ETA 0:00") != std::string::npos);
}

TEST_CASE("progress: the evaluation bar shows what is evaluated, fill, items done of total and items per second") {
  // 3000 of 6000 validation images in 2 s: half full, 1500/s
  CHECK(evaluation_line("[1/3] cnn", "val", 3000, 6000, 2.0) ==
        "[1/3] cnn evaluating val [============            ] 3000/6000 1500/s");
  CHECK(evaluation_line("r", "test (best)", 10000, 10000, 4.0) ==
        "r evaluating test (best) [========================] 10000/10000 2500/s");
  CHECK(evaluation_line("r", "val", 0, 0, 0.0) == "r evaluating val [                        ] 0/0 0/s");
}
