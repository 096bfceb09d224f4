// A small real ext4 filesystem for the full-disk tests: an image file
// formatted with mkfs.ext4 and loop-mounted (needs root, mkfs.ext4 and a
// free loop device). ok() is false, with why() saying why, where the
// machine cannot; tests then skip with that reason.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/test_support.h"

namespace kvtier::testing {

class LoopMount {
 public:
  explicit LoopMount(uint64_t bytes) {
    image_ = dir_.path() / "fs.img";
    mount_ = dir_.path() / "mnt";
    std::filesystem::create_directory(mount_);
    if (geteuid() != 0) {
      why_ = "loop-mounting needs root";
      return;
    }
    { std::ofstream touch(image_); }
    std::filesystem::resize_file(image_, bytes);
    if (!Run("mkfs.ext4 -q -F '" + image_.string() + "' >/dev/null 2>&1")) {
      why_ = "mkfs.ext4 failed or is missing";
      return;
    }
    if (!Run("mount -o loop '" + image_.string() + "' '" + mount_.string() +
             "' >/dev/null 2>&1")) {
      why_ = "mount -o loop refused (no loop device or no permission)";
      return;
    }
    mounted_ = true;
    chmod(mount_.c_str(), 0700);
  }
  ~LoopMount() {
    if (mounted_) Run("umount '" + mount_.string() + "' >/dev/null 2>&1");
  }
  LoopMount(const LoopMount&) = delete;
  LoopMount& operator=(const LoopMount&) = delete;

  bool ok() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::filesystem::path& path() const { return mount_; }

 private:
  static bool Run(const std::string& command) {
    return std::system(command.c_str()) == 0;
  }

  TempDir dir_;
  std::filesystem::path image_;
  std::filesystem::path mount_;
  std::string why_;
  bool mounted_ = false;
};

}  // namespace kvtier::testing
