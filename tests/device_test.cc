// tests/device_test.cc - the GPU probe (device/device.c, device/cuda/device_cuda.c).
//
// The probe never fails: built without CUDA, or with CUDA but no driver or no
// device, it reports 0 GPUs and says why; with GPUs each has a name, memory and
// a compute capability. DeviceGpu tests skip, saying why, where no GPU is seen.
#include "device/device.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

TEST(Device, ProbeNeverFails) {
  dtxi_gpu_probe p;
  std::memset(&p, 0xab, sizeof p);
  dtxi_gpu_probe_run(&p);
  EXPECT_GE(p.count, 0);
  EXPECT_LE(p.count, DTXI_MAX_GPUS);
  EXPECT_NE(std::memchr(p.why_none, '\0', sizeof p.why_none), nullptr) << "why_none is not terminated";
  if (p.count == 0) {
    EXPECT_GT(std::strlen(p.why_none), 0u) << "no GPU, and no reason given";
  } else {
    EXPECT_EQ(p.why_none[0], '\0') << "GPUs found, yet why_none says: " << p.why_none;
  }
  std::printf("gpus: %d%s%s\n", p.count, p.count == 0 ? ", why: " : "", p.count == 0 ? p.why_none : "");
}

TEST(Device, WithoutCudaOrDriverCountIsZero) {
  dtxi_gpu_probe p;
  dtxi_gpu_probe_run(&p);
#ifndef DTX_HAVE_CUDA
  EXPECT_EQ(p.count, 0);
  EXPECT_NE(std::string(p.why_none).find("without CUDA"), std::string::npos) << p.why_none;
#else
  if (p.count > 0) GTEST_SKIP() << "this machine has " << p.count << " GPU(s)";
  EXPECT_GT(std::strlen(p.why_none), 0u);
  EXPECT_EQ(std::string(p.why_none).find("without CUDA"), std::string::npos)
      << "built with CUDA, yet the probe says: " << p.why_none;
#endif
}

TEST(Device, ProbeIsCachedAndThreadSafe) {
  dtxi_gpu_probe first;
  dtxi_gpu_probe_run(&first);
  std::vector<dtxi_gpu_probe> got(8);
  std::vector<std::thread> threads;
  for (auto &g : got) threads.emplace_back([&g] { dtxi_gpu_probe_run(&g); });
  for (auto &t : threads) t.join();
  for (const auto &g : got) {
    EXPECT_EQ(g.count, first.count);
    EXPECT_STREQ(g.why_none, first.why_none);
    for (int i = 0; i < first.count; i++) EXPECT_STREQ(g.gpu[i].name, first.gpu[i].name);
  }
  dtxi_gpu_probe_run(nullptr);  // tolerated
}

TEST(DeviceGpu, EveryGpuHasNameMemoryAndCapability) {
  dtxi_gpu_probe p;
  dtxi_gpu_probe_run(&p);
  if (p.count == 0) GTEST_SKIP() << "no GPU: " << p.why_none;
  for (int i = 0; i < p.count; i++) {
    const dtxi_gpu_info &g = p.gpu[i];
    EXPECT_GT(std::strlen(g.name), 0u) << "gpu " << i;
    EXPECT_GT(g.total_memory, size_t(0)) << "gpu " << i << " " << g.name;
    EXPECT_GE(g.cc_major, 3) << "gpu " << i << " " << g.name;
    EXPECT_GE(g.cc_minor, 0);
    std::printf("gpu %d: %s, %.1f GiB, cc %d.%d\n", i, g.name, double(g.total_memory) / (1 << 30), g.cc_major,
                g.cc_minor);
  }
}
