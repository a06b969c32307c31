// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title HtlcSwap
/// @notice Hashed-timelock contracts, the baseline the benchmarks compare the Gateway's swaps with.
/// A sender locks an asset for a receiver under a hashlock and a timelock: anyone who shows the secret
/// before the timelock pays the receiver, and after it anyone may send the asset back to the sender.
/// @dev The hashlock is sha256(secret) over the 32 bytes of the secret, the hash of Bitcoin's and
/// Lightning's HTLCs, so the same secret can also lock a swap with a chain that has no keccak256.
/// Timelocks are block heights of this chain: claims are accepted while block.number < timelock,
/// refunds from block.number >= timelock on, so no block allows both.
/// The token rules are the Gateway's (native coin as address(0), ERC-20 through SafeERC20, no
/// fee-on-transfer tokens) so that the benchmark compares the protocols and not the token checks.
contract HtlcSwap is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    enum State {
        None,
        Locked,
        Claimed,
        Refunded
    }

    /// @dev sender, timelock and state share one slot: a claim or refund rewrites only that slot.
    struct Lock {
        address sender;
        uint64 timelock;
        State state;
        address receiver;
        address asset;
        uint256 amount;
        bytes32 hashlock;
    }

    address private constant NATIVE = address(0);

    mapping(bytes32 id => Lock) private _locks;

    event Locked(
        bytes32 indexed id,
        address indexed sender,
        address indexed receiver,
        address asset,
        uint256 amount,
        bytes32 hashlock,
        uint64 timelock
    );
    /// @notice Publishes the secret: the other side of the swap reads it here to claim its own lock.
    event Claimed(bytes32 indexed id, address indexed receiver, bytes32 secret);
    event Refunded(bytes32 indexed id, address indexed sender);

    error HtlcSwapInvalidLock();
    error HtlcSwapWrongPayment(uint256 expected, uint256 received);
    error HtlcSwapAlreadyExists(bytes32 id);
    error HtlcSwapNotLocked(bytes32 id, State state);
    error HtlcSwapWrongSecret(bytes32 id);
    error HtlcSwapExpired(uint64 timelock, uint256 blockNumber);
    error HtlcSwapNotExpired(uint64 timelock, uint256 blockNumber);

    /// @notice Locks `amount` of `asset` (address(0): the native coin, sent as msg.value) for `receiver`
    /// until block `timelock`. The id depends on every term and on the sender, so the same terms cannot
    /// be locked twice: a second lock under a hashlock whose secret is already public would be free to take.
    function lock(address asset, address receiver, uint256 amount, bytes32 hashlock, uint64 timelock)
        external
        payable
        nonReentrant
        returns (bytes32 id)
    {
        require(amount > 0 && receiver != address(0) && timelock > block.number, HtlcSwapInvalidLock());
        id = idOf(msg.sender, asset, receiver, amount, hashlock, timelock);
        require(_locks[id].state == State.None, HtlcSwapAlreadyExists(id));
        _locks[id] = Lock({
            sender: msg.sender,
            timelock: timelock,
            state: State.Locked,
            receiver: receiver,
            asset: asset,
            amount: amount,
            hashlock: hashlock
        });
        emit Locked(id, msg.sender, receiver, asset, amount, hashlock, timelock);
        _collect(asset, amount);
    }

    /// @notice Pays the lock to its receiver, whoever calls, if `secret` opens the hashlock before the timelock.
    function claim(bytes32 id, bytes32 secret) external nonReentrant {
        Lock storage l = _locked(id);
        require(block.number < l.timelock, HtlcSwapExpired(l.timelock, block.number));
        require(sha256(abi.encode(secret)) == l.hashlock, HtlcSwapWrongSecret(id));
        l.state = State.Claimed;
        emit Claimed(id, l.receiver, secret);
        _pay(l.asset, l.receiver, l.amount);
    }

    /// @notice Pays the lock back to its sender, whoever calls, once the timelock is reached.
    function refund(bytes32 id) external nonReentrant {
        Lock storage l = _locked(id);
        require(block.number >= l.timelock, HtlcSwapNotExpired(l.timelock, block.number));
        l.state = State.Refunded;
        emit Refunded(id, l.sender);
        _pay(l.asset, l.sender, l.amount);
    }

    /// @notice The lock `id`, in any state.
    function lockOf(bytes32 id) external view returns (Lock memory) {
        return _locks[id];
    }

    /// @notice The id a lock with these terms gets; ids are unique to this contract and chain.
    function idOf(address sender, address asset, address receiver, uint256 amount, bytes32 hashlock, uint64 timelock)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), sender, asset, receiver, amount, hashlock, timelock));
    }

    function _locked(bytes32 id) private view returns (Lock storage l) {
        l = _locks[id];
        require(l.state == State.Locked, HtlcSwapNotLocked(id, l.state));
    }

    function _collect(address asset, uint256 amount) private {
        if (asset == NATIVE) {
            require(msg.value == amount, HtlcSwapWrongPayment(amount, msg.value));
            return;
        }
        require(msg.value == 0, HtlcSwapWrongPayment(0, msg.value));
        uint256 before = IERC20(asset).balanceOf(address(this));
        IERC20(asset).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(asset).balanceOf(address(this)) - before;
        require(received == amount, HtlcSwapWrongPayment(amount, received));
    }

    function _pay(address asset, address to, uint256 amount) private {
        if (asset == NATIVE) Address.sendValue(payable(to), amount);
        else IERC20(asset).safeTransfer(to, amount);
    }
}
