# Copyright 2026 aloe_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Weights safety through the real policy node: only verified safetensors from weights_dir load."""

import os
import shutil

import pytest
import torch

from aloe_msgs.msg import PolicyUpdate
from aloe_msgs.srv import LoadPolicy
from diagnostic_msgs.msg import DiagnosticArray
from reliability_harness import OTHER_CONFIG, TINY_CONFIG, diag_counter, make_weights, sha256_of
from std_msgs.msg import UInt32

from aloe_ros.nodes.common import DIAGNOSTICS, latched

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_load_policy_refuses_untrusted_weights(driver, start_node, tmp_path):
    weights = tmp_path / 'weights'
    outside = tmp_path / 'outside'
    good = make_weights(str(weights), TINY_CONFIG, versions=2)          # versions 1 and 2
    foreign = make_weights(str(outside), TINY_CONFIG, versions=3)       # same model, wrong place
    other = make_weights(str(tmp_path / 'other'), OTHER_CONFIG, versions=4)
    # Another model's weights copied inside the allowed directory, with their correct sha256.
    other_inside = weights / 'other_model.safetensors'
    shutil.copy(other.path, other_inside)
    # A symlink inside weights_dir that points out of it.
    link = weights / 'link.safetensors'
    os.symlink(foreign.path, link)
    # A pickle (torch.save) under a .safetensors name: never unpickled.
    pickled = weights / 'pickled.safetensors'
    torch.save({'w': torch.zeros(3)}, str(pickled))

    proc = start_node('aloe_ros.nodes.policy', {
        'learner_config': TINY_CONFIG, 'weights_dir': str(weights), 'replan_period': 0.1})
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    versions = driver.collect(UInt32, '/aloe/policy/version', latched(1), keep=lambda m: m.data)
    client = driver.node.create_client(LoadPolicy, '/aloe/policy/load')

    def load(uri, sha, version):
        # generous: the first call waits for the node's start-up (torch), minutes under a CPU hog
        res = driver.call(client, LoadPolicy.Request(uri=str(uri), sha256=sha, version=version),
                          timeout=300)
        assert res is not None, proc.output()
        return res

    good_sha = sha256_of(good.path)
    # One hex digit changed (never to itself), in upper case: case is not what makes it wrong.
    wrong_sha = (good_sha[:-1] + ('1' if good_sha[-1] == '0' else '0')).upper()
    refusals = [
        (foreign.path, sha256_of(foreign.path), 'outside'),
        (str(weights / '..' / 'outside' / os.path.basename(foreign.path)), sha256_of(foreign.path),
         'outside'),
        (str(link), sha256_of(foreign.path), 'outside'),
        ('file://' + str(link), sha256_of(foreign.path), 'outside'),
        (good.path, '0' * 64, 'sha256'),
        (good.path, wrong_sha, 'sha256'),
        (good.path, '', 'sha256'),
        (str(other_inside), sha256_of(str(other_inside)), 'config'),
        (str(pickled), sha256_of(str(pickled)), ''),
        (os.path.basename(good.path), good_sha, 'absolute'),
        ('http://evil.example/actor.safetensors', good_sha, 'file://'),
        ('file://evil.example' + good.path, good_sha, 'host'),
        (str(weights / 'missing.safetensors'), good_sha, ''),
        (str(weights), good_sha, 'outside'),
    ]
    for uri, sha, reason in refusals:
        res = load(uri, sha, 2)
        assert not res.success, (uri, res.message)
        assert res.message.startswith('refused'), res.message
        assert reason.lower() in res.message.lower(), (uri, res.message)
        assert res.running_version == 0
        assert proc.alive(), proc.output()

    # A genuine file announced under another version is refused: a false high label would make the
    # node refuse every later (lower-numbered) update from the learner.
    res = load(good.path, good_sha, 4000000000)
    assert not res.success and 'holds v2' in res.message, res.message
    # The genuine file loads, and only from inside weights_dir with the right checksum.
    res = load(good.path, good_sha, 2)
    assert res.success, res.message
    assert driver.spin_until(lambda: versions and versions[-1] == 2, timeout=60), proc.output()
    # Same path through a ../ detour that stays inside is fine; an older version is refused.
    res = load(str(weights / '..' / 'weights' / os.path.basename(good.path)), good_sha, 1)
    assert not res.success and 'not newer' in res.message

    # A PolicyUpdate announcing outside or tampered weights is refused the same way, never run.
    pub = driver.node.create_publisher(PolicyUpdate, '/aloe/policy_update', latched(1))
    pub.publish(PolicyUpdate(version=9, checkpoint_uri='file://' + str(link),
                             sha256=sha256_of(foreign.path)))
    # The update topic keeps one sample: wait until the node refused this one (counted) before
    # the next replaces it, instead of a fixed pause that a loaded machine can overrun.
    assert driver.spin_until(lambda: diag_counter(diags, 'policy', 'updates_rejected')
                             >= len(refusals) + 3, timeout=60), proc.output()
    pub.publish(PolicyUpdate(version=10, checkpoint_uri='file://' + good.path, sha256='f' * 64))
    assert driver.spin_until(lambda: diag_counter(diags, 'policy', 'updates_rejected')
                             >= len(refusals) + 4, timeout=60), proc.output()
    assert versions[-1] == 2 and proc.alive()
    assert 'Traceback' not in proc.output(20000)
