// OpenCudaCopyEngine: loads the CUDA copy engine from libkvtier_cuda.so, a
// module built only when CMake found nvcc. libkvtier itself never links the
// CUDA runtime: a build without CUDA (or a machine without the module or a
// driver) gets NotSupported with the reason, and the rest of the store works.
#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "backends/gpu/copy_engine.h"

namespace kvtier::internal {
namespace {

#if defined(KVTIER_CUDA_MODULE_NAME)
// extern "C" int kvtier_cuda_open_copy_engine(int device, CopyEngine** out,
//                                             char* message, size_t bytes);
// Returns a StatusCode; on failure `message` says why.
using OpenFn = int (*)(int, CopyEngine**, char*, size_t);

struct Module {
  OpenFn open = nullptr;
  std::string error;
};

// The module installed beside the library that holds this code
// (libkvtier.so.0, or the program kvtier is linked into): an installed
// prefix is found wherever it was moved to.
std::string BesideThisLibrary() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&OpenCudaCopyEngine), &info) == 0 ||
      info.dli_fname == nullptr) {
    return {};
  }
  const std::string self = info.dli_fname;
  const size_t slash = self.rfind('/');
  if (slash == std::string::npos) return {};
  return self.substr(0, slash + 1) + KVTIER_CUDA_MODULE_NAME;
}

// The module stays loaded for the process's life (engines may outlive any
// one store). Looked for where KVTIER_CUDA_MODULE says, then beside this
// library, then where this build put it, then where it installs by
// default, then by name (LD_LIBRARY_PATH).
const Module& LoadModule() {
  static const Module module = [] {
    Module m;
    std::string tried;
    std::vector<std::string> paths;
    if (const char* env = std::getenv("KVTIER_CUDA_MODULE")) paths.push_back(env);
    if (std::string beside = BesideThisLibrary(); !beside.empty()) {
      paths.push_back(beside);
    }
    paths.push_back(KVTIER_CUDA_MODULE_BUILD_PATH);
    paths.push_back(KVTIER_CUDA_MODULE_INSTALL_PATH);
    paths.push_back(KVTIER_CUDA_MODULE_NAME);
    for (const std::string& path : paths) {
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        const char* why = dlerror();
        tried += "\n  " + (why ? std::string(why) : path + ": not found");
        continue;
      }
      m.open = reinterpret_cast<OpenFn>(dlsym(handle, "kvtier_cuda_open_copy_engine"));
      if (m.open != nullptr) return m;
      tried += "\n  " + path + ": no kvtier_cuda_open_copy_engine";
    }
    m.error =
        "the CUDA copy engine (" KVTIER_CUDA_MODULE_NAME ") could not be loaded:" + tried;
    return m;
  }();
  return module;
}
#endif

}  // namespace

Result<std::unique_ptr<CopyEngine>> OpenCudaCopyEngine(int device) {
#if defined(KVTIER_CUDA_MODULE_NAME)
  const Module& module = LoadModule();
  if (module.open == nullptr) return NotSupported(module.error);
  CopyEngine* engine = nullptr;
  char message[512] = {0};
  const int code = module.open(device, &engine, message, sizeof(message));
  if (code != 0 || engine == nullptr) {
    return Status(code != 0 ? static_cast<StatusCode>(code) : StatusCode::kInternal,
                  message);
  }
  return std::unique_ptr<CopyEngine>(engine);
#else
  return NotSupported(
      "this build of kvtier has no CUDA (nvcc was not found, or "
      "KVTIER_WITH_CUDA=OFF): device memory and the GPU tier are unavailable");
#endif
}

}  // namespace kvtier::internal
