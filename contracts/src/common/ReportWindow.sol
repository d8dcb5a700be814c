// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice How long a node stays answerable for its attestation statements, shared by the registry that takes the
/// reports and refunds (`AttestationRegistry`) and the one that holds the collateral they slash (`NodeRegistry`).
library ReportWindow {
    /// Refunds for a statement close this many epochs after the later of its epoch and the end of the stack's
    /// challenge window; collateral stays until as many epochs after the node's last obligation ended.
    uint64 internal constant REFUND_EPOCHS = 4;
}
