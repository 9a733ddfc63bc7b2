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

"""nodes/common: parameter declaration and validation, log-once, diagnostics, QoS profiles."""

import logging

from rcl_interfaces.msg import ParameterType
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from aloe_ros.nodes import common


@pytest.fixture
def make_node(ros):
    import rclpy
    nodes = []

    def factory(overrides=()):
        node = rclpy.create_node(f'common_test_{len(nodes)}', context=ros.context,
                                 parameter_overrides=list(overrides))
        nodes.append(node)
        return node
    yield factory
    for node in nodes:
        node.destroy_node()


def test_qos_profiles_by_intent():
    assert common.SENSOR_DATA.reliability == ReliabilityPolicy.BEST_EFFORT
    assert common.SENSOR_DATA.depth == 2
    assert common.COMMANDS.reliability == ReliabilityPolicy.RELIABLE
    assert common.LATCHED.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert common.latched(1).depth == 1 and common.reliable(200).depth == 200


def test_declare_parameters_descriptors_and_overrides(make_node):
    specs = [common.ParamSpec('rate', 50.0, 'loop rate', min=1.0, max=100.0, read_only=True),
             common.ParamSpec('names', [], 'names', kind='string_array'),
             common.ParamSpec('gains', [1.0, 2.0], 'one per name', length_of='names'),
             common.ParamSpec('mode', 'a', 'mode', choices=['a', 'b'])]
    node = make_node([Parameter('names', value=['x', 'y'])])
    values = common.declare_parameters(node, specs)
    assert values == {'rate': 50.0, 'names': ['x', 'y'], 'gains': [1.0, 2.0], 'mode': 'a'}
    desc = node.describe_parameter('rate')
    assert desc.read_only and desc.description == 'loop rate'
    assert desc.type == ParameterType.PARAMETER_DOUBLE
    assert desc.floating_point_range[0].to_value == 100.0
    # live changes are validated with the same rules
    assert not node.set_parameters([Parameter('mode', value='c')])[0].successful
    assert node.set_parameters([Parameter('mode', value='b')])[0].successful


@pytest.mark.parametrize('override,match', [
    (Parameter('rate', value=500.0), "'rate'"),
    (Parameter('rate', value=5), "'rate'"),
    (Parameter('gains', value=[1.0]), "'gains'.*expected 2"),
    (Parameter('mode', value='z'), "'mode'"),
])
def test_invalid_configuration_names_the_parameter(make_node, override, match):
    specs = [common.ParamSpec('rate', 50.0, 'loop rate', min=1.0, max=100.0),
             common.ParamSpec('names', ['p', 'q'], 'names'),
             common.ParamSpec('gains', [1.0, 2.0], 'one per name', length_of='names'),
             common.ParamSpec('mode', 'a', 'mode', choices=['a', 'b'])]
    with pytest.raises(common.ConfigError, match=match):
        common.declare_parameters(make_node([override]), specs)


def test_once_per_cause(caplog):
    events = []
    once = common.OncePerCause(logging.getLogger('t'), on_event=lambda *e: events.append(e))
    with caplog.at_level(logging.INFO):
        assert once.report('nan', 'NaN in chunk: held')
        assert not once.report('nan', 'NaN in chunk: held')
        assert once.is_active('nan')
        assert once.clear('nan', 'chunks valid again')
        assert not once.clear('nan', 'chunks valid again')
        assert once.report('nan', 'NaN in chunk: held')
    assert [r.getMessage() for r in caplog.records] == ['NaN in chunk: held', 'chunks valid again',
                                                        'NaN in chunk: held']
    assert [e[0] for e in events] == ['warn', 'info', 'warn']


def test_once_per_cause_bounded_when_bad_and_good_alternate():
    clock = [0.0]
    events = []
    once = common.OncePerCause(logging.getLogger('t'), on_event=lambda *e: events.append(e),
                               window=5.0, burst=3, clock=lambda: clock[0])
    for k in range(10000):  # bad, good, bad, good ... at 1 kHz for 10 s
        clock[0] = k * 0.001
        if k % 2 == 0:
            once.report('obs', 'observation rejected')
        else:
            once.clear('obs', 'observations valid again')
    # 10 s at <= 3 per 5 s window; flush-sent reports are part of that budget.
    assert len(events) <= 3 * 3
    assert once.suppressed >= 10000 - len(events)
    clock[0] = 100.0
    once.flush()
    last = events[-1]
    # The last report sent tells the current state (cleared) and how many were suppressed.
    assert last[0] == 'info' and 'suppressed' in last[2], last
    # A cause that stops flapping is reported promptly again.
    assert once.report('obs', 'observation rejected')


def test_clock_guard_rejects_bad_samples_and_recovers():
    g = common.ClockGuard(max_backward=0.5, max_forward=10.0, recover_after=0.5, resync_after=2.0)
    assert g.check(100, 0, 0.0)[0] == g.ACCEPT
    verdict, reason = g.check(-1, 0, 0.01)
    assert verdict == g.REJECT and 'invalid' in reason and g.faulty
    assert g.check(100, 2_000_000_000, 0.01)[0] == g.REJECT          # nanosec out of range
    assert g.check(5, 0, 0.02)[0] == g.REJECT                        # 95 s back
    assert g.check(10_000, 0, 0.02)[0] == g.REJECT                   # 9900 s forward
    assert g.check(99, 900_000_000, 0.03)[0] == g.DROP               # 0.1 s back: ignored quietly
    assert g.rejected == 4
    assert g.check(100, 10_000_000, 0.1)[0] == g.ACCEPT and not g.recovered(0.1)
    assert g.check(100, 600_000_000, 0.7)[0] == g.ACCEPT and g.recovered(0.7) and not g.faulty
    # A restarted simulator: a consistent new timeline is adopted after resync_after seconds.
    verdicts = [g.check(k // 10, (k % 10) * 100_000_000, 1.0 + 0.1 * k)[0] for k in range(30)]
    assert verdicts[0] == g.REJECT and g.ACCEPT in verdicts
    assert g.last < 10 * 1_000_000_000


def test_diagnostics_counters_and_rates(make_node):
    diag = common.DiagnosticsPublisher(make_node())
    diag.declare('rejected')
    diag.count('received', 3)
    diag.set('age', 0.0123456789)
    diag.set_status(common.DiagnosticsPublisher.WARN, 'rejecting input')
    values = common.diagnostic_values(diag.build(), 'common_test')
    assert values['rejected'] == '0' and values['received'] == '3' and values['age'] == '0.0123457'
    assert float(values['received_rate']) > 0
    msg = diag.build()
    assert msg.status[0].level == common.DiagnosticsPublisher.WARN
    assert float(common.diagnostic_values(msg, 'common_test')['received_rate']) == 0.0


def test_stamp_conversions():
    t = common.sec_to_stamp(12.5)
    assert (t.sec, t.nanosec) == (12, 500000000)
    assert common.stamp_to_sec(t) == 12.5


# --------------------------------------------------------------------------- robot profile


def _profile_params(specs, **values):
    p = {spec.name: spec.default for spec in specs}
    p.update(values)
    return p


def test_load_robot_profile_serves_every_node_and_refuses_replaced_parameters(tmp_path):
    from pathlib import Path

    from aloe_ros.nodes import chunk_executor, observation
    profile = str(Path(__file__).parents[2] / 'config' / 'robots' / 'aloha.yaml')
    for module in (chunk_executor, observation):
        specs = module.parameter_specs()
        assert common.load_robot_profile(_profile_params(specs), specs,
                                         module.PROFILE_REPLACES) is None
        loaded = common.load_robot_profile(_profile_params(specs, robot_profile=profile), specs,
                                           module.PROFILE_REPLACES)
        assert loaded.name and len(loaded.action_names) == 14
        # Every replaced parameter, moved off its default, is refused by name.
        for name in module.PROFILE_REPLACES:
            default = next(s.default for s in specs if s.name == name)
            moved = ([f'{v}x' if isinstance(v, str) else v + 0.5 for v in default]
                     if isinstance(default, list) else 'forward')
            p = _profile_params(specs, robot_profile=profile, **{name: moved})
            with pytest.raises(common.ConfigError, match=rf"replaces \['{name}'\]"):
                common.load_robot_profile(p, specs, module.PROFILE_REPLACES)
    # The executor's limits written back at their defaults, up to float rounding, are not "set".
    specs = chunk_executor.parameter_specs()
    default = next(s.default for s in specs if s.name == 'lower_limits')
    lower = [v * 3.0 / 3.0 + 1e-15 for v in default]
    p = _profile_params(specs, robot_profile=profile, lower_limits=lower)
    assert common.load_robot_profile(p, specs, chunk_executor.PROFILE_REPLACES) is not None
    # A mistake in the file names the key, as a ConfigError on robot_profile.
    bad = tmp_path / 'bad.yaml'
    bad.write_text(Path(profile).read_text().replace('type: joint_trajectory',
                                                     'type: velocity', 1))
    specs = observation.parameter_specs()
    with pytest.raises(common.ConfigError) as err:
        common.load_robot_profile(_profile_params(specs, robot_profile=str(bad)), specs,
                                  observation.PROFILE_REPLACES)
    assert err.value.parameter == 'robot_profile'
    assert ".type: unknown controller type 'velocity'" in err.value.problem


def test_differs_from_default():
    assert not common.differs_from_default([3.14, -1.0], [3.14, -1.0])
    assert not common.differs_from_default([0.1 + 0.2], [0.3])
    assert common.differs_from_default([0.3001], [0.3])
    assert common.differs_from_default([1.0], [1.0, 1.0])
    assert common.differs_from_default(['left'], ['right'])
    assert not common.differs_from_default('trajectory', 'trajectory')
    assert common.differs_from_default('forward', 'trajectory')
    assert not common.differs_from_default(0.0, 1e-15)
