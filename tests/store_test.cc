/*
 * tests/store_test.cc - the chunk store (data/store.c) on its own: keepers
 * and their slots, the per-device least-recently-used lists of kept chunks
 * and their bytes, the spilled copies' references, what a keeper's release
 * and an executor's detaching give back through the callbacks, the store's
 * invariant check; and the internal task flags of the store's tasks
 * (dtxi_graph_add_ex) with the output_size hint beside them.
 */
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dtx/dtx.h"

extern "C" {
struct sth;
sth *sth_new(int attach);
void sth_detach(sth *h);
void sth_free(sth *h);
int sth_give_backs(const sth *h);
int sth_rooms(const sth *h);
int64_t sth_freed(const sth *h);
void *sth_keeper_new(sth *h, int64_t n);
void sth_keeper_clear(void *k);
void sth_keeper_free(void *k);
int sth_keeper_registered(void *k);
int sth_slot_dev(void *k, int64_t b);
const void *sth_slot_ptr(void *k, int64_t b);
size_t sth_slot_size(void *k, int64_t b);
int sth_slot_users(void *k, int64_t b);
int sth_slot_listed(void *k, int64_t b);
int sth_hold_new(void *k, int64_t b, void *m, const void *src, size_t n);
int sth_hold_slot(void *k, int64_t b, void *ka, int64_t a, void *m);
int sth_slot_chunk_refs(void *k, int64_t b);
void sth_set(sth *h, void *k, int64_t b, int dev, size_t size, int users);
void sth_touch(sth *h, void *k, int64_t b);
int sth_use(sth *h, void *k, int64_t b);
void sth_unuse(void *k, int64_t b);
int sth_release(sth *h, void *k, int64_t b);
void sth_set_spill(void *k, int64_t b, void *sp);
void *sth_back(sth *h, void *k, int64_t b, int users);
int sth_order(sth *h, int dev, void *k, int64_t *out, int max);
int64_t sth_bytes(sth *h, int dev);
int64_t sth_idle(sth *h, int dev, void *k);
int sth_check(sth *h, int dev, char *why, size_t n);
void sth_corrupt_bytes(sth *h, int dev, int64_t delta);
void sth_flip_listed(void *k, int64_t b);
void *sth_mem_new(void);
int64_t sth_mem_used(void *m);
void sth_mem_free(void *m);
void *sth_spill_new(void *m, size_t n);
void sth_spill_ref(void *s);
void sth_spill_unref(void *s);
int sth_spill_refs(void *s);
unsigned sth_flag_keeps(void);
unsigned sth_flag_lends(void);
int sth_graph_add(dtx_graph *g, const dtx_task_desc *d, unsigned flags, dtx_task_id *id);
unsigned sth_graph_flags(const dtx_graph *g, dtx_task_id id);
size_t sth_graph_output_size(const dtx_graph *g, dtx_task_id id);
}

namespace {

struct Store {
  sth *h;
  explicit Store(bool attach = true) : h(sth_new(attach ? 1 : 0)) {}
  ~Store() {
    sth_detach(h);
    sth_free(h);
  }
};

std::vector<int64_t> Order(sth *h, int dev, void *k) {
  int64_t buf[64];
  int n = sth_order(h, dev, k, buf, 64);
  return std::vector<int64_t>(buf, buf + n);
}

std::string Check(sth *h, int dev) {
  char why[256] = "";
  return sth_check(h, dev, why, sizeof why) != 0 ? std::string(why) : std::string();
}

int Noop(dtx_task_ctx *) { return 0; }

}  // namespace

TEST(Store, AKeeperStartsWithEmptySlotsAndRegistersOnlyWithAnAttachedStore) {
  Store st;
  ASSERT_NE(st.h, nullptr);
  void *k = sth_keeper_new(st.h, 5);
  ASSERT_NE(k, nullptr);
  for (int64_t b = 0; b < 5; b++) {
    EXPECT_EQ(sth_slot_dev(k, b), -1);
    EXPECT_EQ(sth_slot_ptr(k, b), nullptr);
    EXPECT_EQ(sth_slot_listed(k, b), 0);
  }
  EXPECT_TRUE(sth_keeper_registered(k));
  void *lone = sth_keeper_new(nullptr, 2);
  ASSERT_NE(lone, nullptr);
  EXPECT_FALSE(sth_keeper_registered(lone)) << "no store";
  Store bare(false);
  void *unattached = sth_keeper_new(bare.h, 2);
  ASSERT_NE(unattached, nullptr);
  EXPECT_FALSE(sth_keeper_registered(unattached)) << "no executor attached";
  sth_keeper_free(unattached);
  sth_keeper_free(lone);
  sth_keeper_free(k);
  sth_keeper_free(nullptr);
  EXPECT_EQ(sth_give_backs(st.h), 0) << "empty slots hold no device memory";
}

TEST(Store, AHostSlotHoldsAChunkOfTheHostAccounting) {
  Store st;
  void *m = sth_mem_new();
  void *other = sth_mem_new();
  ASSERT_NE(m, nullptr);
  ASSERT_NE(other, nullptr);
  void *k = sth_keeper_new(st.h, 4);
  ASSERT_NE(k, nullptr);
  std::vector<int32_t> src(1000);
  for (size_t i = 0; i < src.size(); i++) src[i] = static_cast<int32_t>(i * 7 + 1);
  const size_t bytes = src.size() * sizeof src[0];
  ASSERT_TRUE(sth_hold_new(k, 1, m, src.data(), bytes));
  EXPECT_EQ(sth_slot_dev(k, 1), -1);
  EXPECT_EQ(sth_slot_size(k, 1), bytes);
  EXPECT_EQ(sth_slot_chunk_refs(k, 1), 1) << "the slot's reference is the chunk's last";
  EXPECT_EQ(sth_mem_used(m), static_cast<int64_t>(bytes)) << "the host accounting sees a kept chunk";
  src.assign(src.size(), 0);
  const int32_t *kept = static_cast<const int32_t *>(sth_slot_ptr(k, 1));
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept[0], 1);
  EXPECT_EQ(kept[999], 999 * 7 + 1);
  EXPECT_EQ(sth_slot_listed(k, 1), 0) << "host slots are on no device's list";
  /* a chunk one slot holds is copied for another: each slot's chunk is its own */
  ASSERT_TRUE(sth_hold_slot(k, 2, k, 1, m));
  EXPECT_NE(sth_slot_ptr(k, 2), sth_slot_ptr(k, 1));
  EXPECT_EQ(static_cast<const int32_t *>(sth_slot_ptr(k, 2))[999], 999 * 7 + 1);
  EXPECT_EQ(sth_slot_chunk_refs(k, 1), 1);
  EXPECT_EQ(sth_mem_used(m), 2 * static_cast<int64_t>(bytes));
  /* a chunk of another accounting is copied into the keeper's */
  void *k2 = sth_keeper_new(st.h, 1);
  ASSERT_NE(k2, nullptr);
  ASSERT_TRUE(sth_hold_new(k2, 0, other, kept, bytes));
  ASSERT_TRUE(sth_hold_slot(k, 3, k2, 0, m));
  EXPECT_EQ(sth_mem_used(m), 3 * static_cast<int64_t>(bytes));
  sth_keeper_free(k2);
  EXPECT_EQ(sth_mem_used(other), 0);
  ASSERT_TRUE(sth_hold_new(k, 0, m, nullptr, 0)) << "an empty chunk is kept too";
  EXPECT_NE(sth_slot_ptr(k, 0), nullptr);
  sth_keeper_clear(k);
  EXPECT_EQ(sth_slot_ptr(k, 1), nullptr);
  EXPECT_EQ(sth_mem_used(m), 0) << "clearing drops the slots' references: the chunks go";
  EXPECT_EQ(sth_give_backs(st.h), 0) << "host memory is not the executor's to give back";
  EXPECT_EQ(sth_rooms(st.h), 0);
  sth_keeper_free(k);
  sth_mem_free(other);
  sth_mem_free(m);
}

TEST(Store, EachDeviceListsItsChunksLeastRecentlyUsedFirst) {
  Store st;
  void *k = sth_keeper_new(st.h, 5);
  ASSERT_NE(k, nullptr);
  sth_set(st.h, k, 0, 0, 100, 0);
  sth_set(st.h, k, 1, 0, 200, 0);
  sth_set(st.h, k, 2, 0, 300, 0);
  sth_set(st.h, k, 3, 1, 4000, 1);
  EXPECT_EQ(Order(st.h, 0, k), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(Order(st.h, 1, k), (std::vector<int64_t>{3}));
  EXPECT_EQ(sth_bytes(st.h, 0), 600);
  EXPECT_EQ(sth_bytes(st.h, 1), 4000);
  EXPECT_EQ(Check(st.h, 0), "");
  EXPECT_EQ(Check(st.h, 1), "");

  sth_touch(st.h, k, 0);
  EXPECT_EQ(Order(st.h, 0, k), (std::vector<int64_t>{1, 2, 0})) << "touched: most recent";
  EXPECT_EQ(sth_idle(st.h, 0, k), 1);
  ASSERT_TRUE(sth_use(st.h, k, 1)) << "lends its device memory";
  EXPECT_EQ(sth_slot_users(k, 1), 1);
  EXPECT_EQ(Order(st.h, 0, k), (std::vector<int64_t>{2, 0, 1})) << "used: most recent";
  sth_use(st.h, k, 2);
  EXPECT_EQ(sth_idle(st.h, 0, k), 0) << "the least recent chunk nobody uses spills first";
  sth_use(st.h, k, 0);
  EXPECT_EQ(sth_idle(st.h, 0, k), -1) << "all in use: none may spill";
  EXPECT_EQ(Order(st.h, 0, k), (std::vector<int64_t>{1, 2, 0}));
  EXPECT_EQ(sth_idle(st.h, 1, k), -1) << "gpu 1's chunk is in use";
  sth_unuse(k, 2);
  EXPECT_EQ(sth_idle(st.h, 0, k), 2);
  EXPECT_EQ(sth_bytes(st.h, 0), 600) << "using and touching moves, never counts";

  /* spilled: off the list, its bytes no longer held there */
  ASSERT_TRUE(sth_release(st.h, k, 2));
  EXPECT_EQ(sth_slot_ptr(k, 2), nullptr);
  EXPECT_EQ(sth_slot_listed(k, 2), 0);
  EXPECT_EQ(sth_slot_dev(k, 2), 0) << "a slot's device is set once";
  EXPECT_EQ(sth_slot_size(k, 2), 300u);
  EXPECT_EQ(Order(st.h, 0, k), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(sth_bytes(st.h, 0), 300);
  EXPECT_EQ(Check(st.h, 0), "");
  sth_touch(st.h, k, 2);
  EXPECT_EQ(Order(st.h, 0, k), (std::vector<int64_t>{1, 0}))
      << "an unlisted slot is not touched onto the list";

  /* read back: listed again at the most recent end */
  EXPECT_EQ(sth_back(st.h, k, 2, 1), nullptr);
  EXPECT_EQ(Order(st.h, 0, k), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(sth_bytes(st.h, 0), 600);
  EXPECT_EQ(Check(st.h, 0), "");
  sth_keeper_free(k);
  EXPECT_EQ(sth_bytes(st.h, 0), 0);
  EXPECT_EQ(sth_bytes(st.h, 1), 0);
  EXPECT_EQ(Order(st.h, 0, k).size(), 0u);
  EXPECT_EQ(Check(st.h, 0), "");
}

TEST(Store, ASpilledCopyLivesUntilItsLastReference) {
  void *m = sth_mem_new();
  ASSERT_NE(m, nullptr);
  void *sp = sth_spill_new(m, 1000);
  ASSERT_NE(sp, nullptr);
  EXPECT_EQ(sth_mem_used(m), 1000);
  EXPECT_EQ(sth_spill_refs(sp), 1);
  sth_spill_ref(sp); /* two readers reading it back */
  sth_spill_ref(sp);
  EXPECT_EQ(sth_spill_refs(sp), 3);
  sth_spill_unref(sp);
  sth_spill_unref(sp);
  EXPECT_EQ(sth_spill_refs(sp), 1);
  EXPECT_EQ(sth_mem_used(m), 1000) << "one reference left: the host copy stays";
  sth_spill_unref(sp);
  EXPECT_EQ(sth_mem_used(m), 0) << "the last reference frees the host copy";
  sth_spill_unref(nullptr);

  /* a slot's reference passes back to the caller when the chunk is back on its device */
  Store st;
  void *k = sth_keeper_new(st.h, 1);
  ASSERT_NE(k, nullptr);
  sth_set(st.h, k, 0, 0, 1000, 0);
  sp = sth_spill_new(m, 1000);
  ASSERT_NE(sp, nullptr);
  sth_set_spill(k, 0, sp);
  sth_spill_ref(sp); /* a job reading it back */
  ASSERT_TRUE(sth_release(st.h, k, 0));
  EXPECT_EQ(sth_back(st.h, k, 0, 1), sp);
  EXPECT_EQ(sth_spill_refs(sp), 2) << "handed over, not dropped";
  sth_spill_unref(sp); /* the slot's */
  sth_spill_unref(sp); /* the job's */
  EXPECT_EQ(sth_mem_used(m), 0);
  sth_keeper_free(k);
  sth_mem_free(m);
}

TEST(Store, ReleasingAKeeperGivesBackItsDeviceMemoryThroughTheExecutor) {
  void *m = sth_mem_new();
  ASSERT_NE(m, nullptr);
  Store st;
  void *k = sth_keeper_new(st.h, 4);
  ASSERT_NE(k, nullptr);
  sth_set(st.h, k, 0, 0, 100, 0);
  sth_set(st.h, k, 1, 1, 200, 0);
  sth_set(st.h, k, 2, 1, 300, 0);
  char host[16] = "host";
  ASSERT_TRUE(sth_hold_new(k, 3, m, host, sizeof host));
  void *sp = sth_spill_new(m, 300); /* slot 2 spilled: only its host copy is left */
  ASSERT_NE(sp, nullptr);
  sth_set_spill(k, 2, sp);
  ASSERT_TRUE(sth_release(st.h, k, 2));
  EXPECT_EQ(sth_bytes(st.h, 1), 200);
  sth_keeper_clear(k);
  EXPECT_EQ(sth_give_backs(st.h), 3) << "every device slot, spilled or not";
  EXPECT_EQ(sth_freed(st.h), 300) << "the device memory of the two chunks still there";
  EXPECT_EQ(sth_rooms(st.h), 1) << "work waiting for room is told once";
  EXPECT_EQ(sth_mem_used(m), 0) << "the spilled copy and the host chunk went too";
  EXPECT_EQ(sth_bytes(st.h, 0), 0);
  EXPECT_EQ(sth_bytes(st.h, 1), 0);
  for (int64_t b = 0; b < 4; b++) {
    EXPECT_EQ(sth_slot_dev(k, b), -1) << b;
    EXPECT_EQ(sth_slot_ptr(k, b), nullptr) << b;
  }
  EXPECT_TRUE(sth_keeper_registered(k)) << "cleared, still the store's";
  sth_keeper_free(k);
  EXPECT_EQ(sth_give_backs(st.h), 3) << "nothing left to give back";
  sth_mem_free(m);
}

TEST(Store, AnExecutorDetachingTakesBackTheDeviceMemoryOfKeepersThatOutliveIt) {
  sth *h = sth_new(1);
  ASSERT_NE(h, nullptr);
  void *k = sth_keeper_new(h, 2);
  ASSERT_NE(k, nullptr);
  sth_set(h, k, 0, 0, 512, 0);
  void *m = sth_mem_new();
  ASSERT_NE(m, nullptr);
  char host[8] = "abc";
  ASSERT_TRUE(sth_hold_new(k, 1, m, host, sizeof host));
  sth_detach(h);
  EXPECT_EQ(sth_give_backs(h), 1);
  EXPECT_EQ(sth_freed(h), 512);
  EXPECT_EQ(sth_rooms(h), 0) << "no work waits on an executor that stopped";
  EXPECT_FALSE(sth_keeper_registered(k));
  EXPECT_EQ(sth_bytes(h, 0), 0);
  EXPECT_STREQ(static_cast<const char *>(sth_slot_ptr(k, 1)), "abc") << "host slots stay the keeper's";
  void *late = sth_keeper_new(h, 1);
  ASSERT_NE(late, nullptr);
  EXPECT_FALSE(sth_keeper_registered(late)) << "nothing attached any more";
  sth_free(h); /* the store and the accounting go before their keepers, as a cluster may */
  sth_mem_free(m);
  sth_keeper_free(k); /* the host chunk's accounting goes with it (ASan sees a leak otherwise) */
  sth_keeper_free(late);
}

TEST(Store, TheCheckNamesABrokenList) {
  Store st;
  void *k = sth_keeper_new(st.h, 2);
  ASSERT_NE(k, nullptr);
  sth_set(st.h, k, 0, 0, 8192, 0);
  sth_set(st.h, k, 1, 0, 100, 0);
  EXPECT_EQ(Check(st.h, 0), "");
  sth_corrupt_bytes(st.h, 0, 1);
  EXPECT_EQ(Check(st.h, 0), "kept counts 8293 bytes but its persisted chunks hold 8292");
  sth_corrupt_bytes(st.h, 0, -1);
  sth_flip_listed(k, 1);
  EXPECT_EQ(Check(st.h, 0), "persisted chunk 1 is not flagged listed");
  sth_flip_listed(k, 1);
  EXPECT_EQ(Check(st.h, 0), "");
  sth_keeper_free(k);
}

TEST(Store, TheStoreTasksFlagsAreCheckedAndRecorded) {
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  void *slot = &g; /* any pointer: the argument is the slot's address */
  dtx_task_desc src{};
  src.name = "src";
  src.cpu = Noop;
  dtx_task_id sid, id;
  ASSERT_EQ(dtx_graph_add(g, &src, &sid), DTX_OK);
  EXPECT_EQ(sth_graph_flags(g, sid), 0u);

  dtx_task_desc keep{};
  keep.name = "keep";
  keep.cpu = Noop;
  keep.inputs = &sid;
  keep.ninputs = 1;
  keep.args = &slot;
  keep.args_size = sizeof slot;
  EXPECT_EQ(sth_graph_add(g, &keep, 0x80, &id), DTX_EINVAL) << "an unknown flag";
  EXPECT_NE(std::string(dtx_last_error()).find("unknown internal flags"), std::string::npos)
      << dtx_last_error();
  EXPECT_EQ(sth_graph_add(g, &keep, sth_flag_keeps() | sth_flag_lends(), &id), DTX_EINVAL) << "both";
  keep.args_size = 4;
  EXPECT_EQ(sth_graph_add(g, &keep, sth_flag_keeps(), &id), DTX_EINVAL) << "no slot argument";
  keep.args_size = sizeof slot;
  keep.ninputs = 0;
  EXPECT_EQ(sth_graph_add(g, &keep, sth_flag_keeps(), &id), DTX_EINVAL) << "nothing to keep";
  keep.ninputs = 1;
  EXPECT_EQ(dtx_graph_size(g), 1u) << "nothing was added";
  ASSERT_EQ(sth_graph_add(g, &keep, sth_flag_keeps(), &id), DTX_OK) << dtx_last_error();
  EXPECT_EQ(sth_graph_flags(g, id), sth_flag_keeps());

  dtx_task_desc lend{};
  lend.name = "lend";
  lend.cpu = Noop;
  lend.inputs = &sid;
  lend.ninputs = 1;
  lend.args = &slot;
  lend.args_size = sizeof slot;
  EXPECT_EQ(sth_graph_add(g, &lend, sth_flag_lends(), &id), DTX_EINVAL) << "a lending task reads no input";
  lend.ninputs = 0;
  lend.output_size = 4096;
  ASSERT_EQ(sth_graph_add(g, &lend, sth_flag_lends(), &id), DTX_OK) << dtx_last_error();
  EXPECT_EQ(sth_graph_flags(g, id), sth_flag_lends());
  EXPECT_EQ(sth_graph_output_size(g, id), 4096u);
  dtx_graph_destroy(g);
}

TEST(Store, OutputSizeHintsAreKeptPerTaskAcrossGrowth) {
  dtx_graph *g = nullptr;
  ASSERT_EQ(dtx_graph_create(&g), DTX_OK);
  const int n = 1000; /* past a few doublings of the task table */
  std::vector<dtx_task_id> ids(n);
  for (int i = 0; i < n; i++) {
    dtx_task_desc t{};
    t.name = "t";
    t.nidx = 1;
    t.idx[0] = i;
    t.cpu = Noop;
    t.output_size = i >= 300 && i % 3 == 0 ? static_cast<size_t>(i) * 8 : 0; /* the first hint comes late */
    ASSERT_EQ(dtx_graph_add(g, &t, &ids[i]), DTX_OK) << dtx_last_error();
  }
  for (int i = 0; i < n; i++)
    EXPECT_EQ(sth_graph_output_size(g, ids[i]), i >= 300 && i % 3 == 0 ? static_cast<size_t>(i) * 8 : 0u)
        << i;
  dtx_graph_destroy(g);
}
